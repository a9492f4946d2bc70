"""AES-256-GCM payload codec: personal data never reaches Temporal in clear.

Like temporalio/samples-python encryption/codec.py, with key rotation: the first key encrypts,
every configured key id still decrypts, an unknown key id is an error.

A payload larger than COMPRESS_FROM bytes is compressed (zlib) before it is encrypted, and marked so in
its metadata: a request's views and plans are repetitive JSON, kept in Temporal's history and in the
worker's core for every cached run (a lifecycle's history: 33.4 -> 17.9 KB; bench/worker_memory.py, 3,000
cached requests: 102.6 -> 95.1 KiB each). Payloads without the mark,
written before, decode as they are. Compressing before encrypting lets a ciphertext's length depend on
how much of the plaintext repeats; that tells something only to whoever both writes part of a payload
and reads its length in Temporal's history: the caller who opens a request writes all of its input
itself, and vendors never see Temporal.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_FIELD = "encryption-key-id"
COMPRESSION_FIELD = "encryption-compression"
ZLIB = b"zlib"
COMPRESS_FROM = 256


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._current_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}
        self._current = self._ciphers[self._current_id]

    def encrypt(self, data: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(12)
        return self._current_id, nonce + self._current.encrypt(nonce, data, None)

    def decrypt(self, key_id: str, data: bytes) -> bytes:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise ValueError(f"payload encrypted with unknown key id {key_id!r}")
        return cipher.decrypt(data[:12], data[12:], None)

    async def encode(self, payloads: Iterable[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            plain = payload.SerializeToString()
            metadata = {"encoding": ENCODING}
            if len(plain) > COMPRESS_FROM:
                plain, metadata[COMPRESSION_FIELD] = zlib.compress(plain, 1), ZLIB
            key_id, sealed = self.encrypt(plain)
            out.append(Payload(metadata=metadata | {KEY_ID_FIELD: key_id.encode()}, data=sealed))
        return out

    async def decode(self, payloads: Iterable[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding", b"") != ENCODING:
                out.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_FIELD, b"").decode()
            plain = self.decrypt(key_id, payload.data)
            compression = payload.metadata.get(COMPRESSION_FIELD)
            if compression is not None:
                if compression != ZLIB:
                    raise ValueError(f"payload compressed with unknown method {compression!r}")
                plain = zlib.decompress(plain)
            out.append(Payload.FromString(plain))
        return out


def seal_text(codec: EncryptionCodec, text: str) -> str:
    """Seal a small secret for a database column: 'key_id:base64(nonce+ciphertext)'."""
    key_id, sealed = codec.encrypt(text.encode())
    return f"{key_id}:{base64.b64encode(sealed).decode()}"


def unseal_text(codec: EncryptionCodec, value: str) -> str:
    key_id, _, encoded = value.partition(":")
    return codec.decrypt(key_id, base64.b64decode(encoded)).decode()
