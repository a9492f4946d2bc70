"""A real HTTP webhook receiver for the tests: verifies Standard Webhooks signatures as a vendor's
integration would (written from the spec, independent of the sender's code), answers as scripted,
and records every request and the messages it processed once (deduplicated by webhook-id)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """The Standard Webhooks check: signed content `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256
    keyed with the base64-decoded `whsec_` secret, any `v1,` signature of the space-separated list
    matching in constant time, and a timestamp within 5 minutes."""
    msg_id, stamp, signatures = (
        headers.get("webhook-id"),
        headers.get("webhook-timestamp"),
        headers.get("webhook-signature"),
    )
    if not (msg_id and stamp and signatures and stamp.isdigit()):
        return False
    if abs((now or time.time()) - int(stamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    for versioned in signatures.split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(expected, base64.b64decode(signature)):
            return True
    return False


@dataclass
class Received:
    path: str
    message_id: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float  # time.time() when it arrived
    signature_ok: bool
    answered: int


@dataclass
class Receiver:
    """Endpoints by path: `secrets[path]` checks signatures; `failures[path]` = N answers 500 to the
    first N attempts of each message before 200."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)  # a path that always answers this status
    requests: list[Received] = field(default_factory=list)
    # (path, webhook-id) -> the first accepted delivery: an endpoint processes a message once
    processed: dict[tuple[str, str], Received] = field(default_factory=dict)
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        with self._lock:
            msg_id = headers.get("webhook-id", "")
            attempt = self._seen.get((path, msg_id), 0) + 1
            self._seen[(path, msg_id)] = attempt
            secret = self.secrets.get(path)
            ok = secret is not None and verify(secret, headers, raw)
            status = 401 if not ok else 500 if attempt <= self.failures.get(path, 0) else 200
            status = self.answers.get(path, status)
            record = Received(path, msg_id, headers, json.loads(raw or b"{}"), time.time(), ok, status)
            self.requests.append(record)
            if status == 200 and (path, msg_id) not in self.processed:
                self.processed[(path, msg_id)] = record  # a redelivery is acknowledged, not processed again
            return status

    def of(self, path: str, kind: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.processed.values() if r.path == path and (kind is None or r.body["type"] == kind)]

    def attempts(self, path: str, msg_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path and r.message_id == msg_id]


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(self.path, headers, raw)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
