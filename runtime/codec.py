"""AES-256-GCM payload codec: personal data never reaches Temporal in clear.

Like temporalio/samples-python encryption/codec.py, with key rotation: the first key encrypts,
every configured key id still decrypts, an unknown key id is an error.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_FIELD = "encryption-key-id"


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
            key_id, sealed = self.encrypt(payload.SerializeToString())
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID_FIELD: key_id.encode()}, data=sealed))
        return out

    async def decode(self, payloads: Iterable[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding", b"") != ENCODING:
                out.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_FIELD, b"").decode()
            out.append(Payload.FromString(self.decrypt(key_id, payload.data)))
        return out


def seal_text(codec: EncryptionCodec, text: str) -> str:
    """Seal a small secret for a database column: 'key_id:base64(nonce+ciphertext)'."""
    key_id, sealed = codec.encrypt(text.encode())
    return f"{key_id}:{base64.b64encode(sealed).decode()}"


def unseal_text(codec: EncryptionCodec, value: str) -> str:
    key_id, _, encoded = value.partition(":")
    return codec.decrypt(key_id, base64.b64decode(encoded)).decode()
