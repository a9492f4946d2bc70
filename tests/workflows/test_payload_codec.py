"""The payload codec: a large payload is compressed before it is encrypted, a small one is not, and a
payload written before compression existed still decodes (issue 25 item 6)."""

from __future__ import annotations

import json

import pytest
from temporalio.api.common.v1 import Payload

from harness.keys import TEST_KEYS
from runtime.codec import COMPRESS_FROM, COMPRESSION_FIELD, ENCODING, KEY_ID_FIELD, EncryptionCodec


def json_payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


async def test_a_large_payload_is_compressed_then_sealed_and_decodes_to_itself() -> None:
    codec = EncryptionCodec(TEST_KEYS)
    view = json_payload({"events": [{"type": "customer_confirmed", "sender": "vendor-a"}] * 40})
    [sealed] = await codec.encode([view])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[COMPRESSION_FIELD] == b"zlib"
    assert len(sealed.data) < len(view.SerializeToString()) / 4
    assert b"customer_confirmed" not in sealed.data
    assert await codec.decode([sealed]) == [view]


async def test_a_small_payload_is_sealed_without_compression() -> None:
    codec = EncryptionCodec(TEST_KEYS)
    small = json_payload("ok")
    assert len(small.SerializeToString()) <= COMPRESS_FROM
    [sealed] = await codec.encode([small])
    assert COMPRESSION_FIELD not in sealed.metadata
    assert await codec.decode([sealed]) == [small]


async def test_a_payload_sealed_before_compression_existed_still_decodes() -> None:
    codec = EncryptionCodec(TEST_KEYS)
    view = json_payload({"events": ["customer_confirmed"] * 100})
    key_id, sealed = codec.encrypt(view.SerializeToString())
    old = Payload(metadata={"encoding": ENCODING, KEY_ID_FIELD: key_id.encode()}, data=sealed)
    assert await codec.decode([old]) == [view]


async def test_a_payload_marked_with_an_unknown_compression_is_refused() -> None:
    codec = EncryptionCodec(TEST_KEYS)
    [sealed] = await codec.encode([json_payload(["x"] * 200)])
    sealed.metadata[COMPRESSION_FIELD] = b"brotli"
    with pytest.raises(ValueError, match="unknown method"):
        await codec.decode([sealed])
