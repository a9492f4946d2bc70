"""Webhook URLs never reach inside the network (runtime/webhook_target.py, OWASP's SSRF guidance):
refused at registration in every spelling, checked again at delivery against what the name resolves
to (a stub resolver: nothing here sends to a non-loopback address), sent to the checked address only,
with no proxy from the environment and no redirect followed; the delivery log says a status class and
a fixed reason, never what an exception said."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import TIMEOUT, NotifyActivities
from harness.keys import TEST_KEYS
from harness.live_stack import LiveStack
from runtime.codec import EncryptionCodec
from runtime.webhook_target import UnsafeTarget, check_url, pinned_client
from store import webhooks
from store.models import VendorRow
from tests.webhook_receiver import Receiver, receiving
from workflows.messages import DeliveryInput

# Every spelling of "inside" we know of, refused where loopback is not admitted (production).
INSIDE = [
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/latest/meta-data/",
    "https://127.0.0.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://2130706433/",
    "https://0x7f.1/",
    "https://0x7f000001/",
    "https://0177.0.0.1/",
    "https://017700000001/",
    "https://127.0.0.1./",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:ffff:169.254.169.254]/",
    "https://[::127.0.0.1]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:7f00:1::]/",
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    "https://10.0.0.1/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",
    "https://[fd00::1]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://224.0.0.1/",
    "https://255.255.255.255/",
    "https://240.0.0.1/",
    "https://localhost/",
    "https://localhost:8000/",
    "https://postgres:5432/",
    "https://temporal:7233/",
    "https://metadata.google.internal/",
    "https://printer.local/",
    "https://router.lan/",
    "https://api.localhost/",
    "https://%31%32%37.0.0.1/",
    "https://①②⑦.0.0.1/",
    "https://vendor.example.com@127.0.0.1/",
    "https://127.0.0.1\\@vendor.example.com/",
    "https://vendor.example.com%2F@127.0.0.1/",
    "https://user:pw@vendor.example.com/",
    "https://vendor.example.com/x y",
    "https://vendor.example.com/\r\nX-Injected: 1",
    "https://vendor.example.com\n/",
    "https://vendor.example.com:99999/",
    "https://vendor.example.com:22/",
    "https://[::ffff:127.0.0.1/",
    "http://vendor.example.com/",
    "http://127.0.0.1:8000/",
    "ftp://vendor.example.com/",
    "//vendor.example.com/",
]
PUBLIC = ["https://hooks.vendor-a.com/sla", "https://203.0.113.7:8443/x", "https://[2001:db8::1]/"]
REAL_PUBLIC = ["https://hooks.vendor-a.com/sla", "https://93.184.216.34:8443/x", "https://[2606:4700::1111]/"]


def test_every_inside_spelling_of_a_webhook_url_is_refused_with_a_rule_and_public_https_is_admitted() -> None:
    refused: dict[str, str] = {}
    for url in INSIDE:
        try:
            check_url(url, allow_loopback=False)
        except UnsafeTarget as unsafe:
            refused[url] = unsafe.rule
    print(f"\nSSRF spellings refused at registration: {len(refused)} / {len(INSIDE)}")
    assert sorted(set(INSIDE) - set(refused)) == []
    assert set(refused.values()) <= {
        "webhook.url_malformed",
        "webhook.url_scheme",
        "webhook.url_credentials",
        "webhook.url_address",
        "webhook.url_port",
    }
    for url in REAL_PUBLIC:
        assert check_url(url, allow_loopback=False).scheme == "https"
    for url in PUBLIC[1:]:  # documentation ranges are not public addresses
        with pytest.raises(UnsafeTarget):
            check_url(url, allow_loopback=False)


def test_the_loopback_setting_admits_http_to_loopback_and_nothing_else_inside() -> None:
    admitted = ["http://127.0.0.1:8123/hook", "http://localhost:8123/hook", "http://[::1]:8123/hook"]
    for url in admitted:
        assert check_url(url, allow_loopback=True).scheme == "http"
    loopback = {
        "https://127.0.0.1/",
        "https://127.0.0.1./",
        "https://[::1]/",
        "https://localhost/",
        "https://localhost:8000/",
        "https://api.localhost/",
        "http://127.0.0.1:8000/",
    }
    for url in [*(u for u in INSIDE if u not in loopback), "http://10.0.0.1:8123/", "http://vendor.example.com:81/"]:
        with pytest.raises(UnsafeTarget):
            check_url(url, allow_loopback=True)


async def test_registration_answers_422_naming_the_rule_for_an_inside_or_malformed_url(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    vendor_id = f"vendor-ssrf-{uuid.uuid4().hex[:6]}"
    with Session(live.engine) as session:
        session.add(VendorRow(id=vendor_id, name=vendor_id))
        session.commit()
    cases = {
        "https://169.254.169.254/latest/meta-data/": "webhook.url_address",
        "http://127.1:8000/": "webhook.url_malformed",
        "http://[::ffff:127.0.0.1]:8000/": "webhook.url_address",
        "https://vendor.example.com/\r\nX-Injected: 1": "webhook.url_malformed",
        "https://vendor.example.com/x y": "webhook.url_malformed",
        "https://vendor.example.com@127.0.0.1/": "webhook.url_credentials",
        "https://postgres:5432/": "webhook.url_address",
        "http://10.0.0.1:8000/": "webhook.url_address",
    }
    for url, rule in cases.items():
        answer = await http.post(
            f"/v1/vendors/{vendor_id}/webhooks",
            json={"url": url, "events": ["clock.met"]},
            headers=live.headers("admin"),
        )
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["rule"] == rule, (url, answer.text)
        assert answer.json()["source"] == "runtime/webhook_target.py"
    admitted = await http.post(
        f"/v1/vendors/{vendor_id}/webhooks",
        json={"url": "https://hooks.vendor-a.com/sla", "events": ["clock.met"]},
        headers=live.headers("admin"),
    )
    assert admitted.status_code == 201, admitted.text


# -- at delivery, with a stub resolver ------------------------------------------------------------------
class StubResolver:
    """Answers from a table, counting calls; a name it does not know does not resolve."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers, self.calls = answers, 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        sequence = self.answers.get(host)
        if not sequence:
            raise OSError("unknown name")
        return sequence.pop(0) if len(sequence) > 1 else sequence[0]


def _notify(engine: Engine, resolver: StubResolver, *, allow_loopback: bool) -> NotifyActivities:
    codec = EncryptionCodec(TEST_KEYS)
    # deliver_webhook never uses the Temporal client
    return NotifyActivities(
        cast(Client, None), engine, codec, "q-webhooks", "http://x", allow_loopback=allow_loopback, resolver=resolver
    )


def _hook(engine: Engine, receiver: Receiver, url: str) -> tuple[DeliveryInput, str]:
    """A webhook row as one registered before the check could have left it (store level, no check)."""
    with Session(engine) as session:
        if session.get(VendorRow, "vendor-ssrf") is None:
            session.add(VendorRow(id="vendor-ssrf", name="vendor-ssrf"))
            session.commit()
    path = "/" + uuid.uuid4().hex[:8]
    row, secret = webhooks.create_webhook(
        engine, EncryptionCodec(TEST_KEYS), "vendor-ssrf", url.format(port=receiver.port, path=path), ["clock.met"], "t"
    )
    receiver.secrets[path] = secret
    message = f"msg_{uuid.uuid4().hex}"
    webhooks.record_pending(
        engine,
        [webhooks.Pending(row.id, message, "clock.met", "r1", None, 1, datetime.now(UTC))],
    )
    return DeliveryInput(row.id, message, "clock.met", '{"type":"clock.met"}'), path


def _log(engine: Engine, delivery: DeliveryInput) -> Any:
    [(row, attempts)] = webhooks.deliveries(engine, delivery.webhook_id, 10)
    return row, attempts


async def test_a_delivery_is_refused_before_any_connection_when_its_address_is_inside_however_it_is_spelled(
    engine: Engine,
) -> None:
    resolver = StubResolver(
        {
            "hooks.vendor-a.com": [["10.0.0.7"]],
            "mixed.vendor-a.com": [["93.184.216.34", "169.254.169.254"]],
            "mapped.vendor-a.com": [["::ffff:127.0.0.1"]],
            "scoped.vendor-a.com": [["fe80::1%eth0"]],
        }
    )
    tried = [
        "https://hooks.vendor-a.com{path}",
        "https://mixed.vendor-a.com{path}",
        "https://mapped.vendor-a.com{path}",
        "https://scoped.vendor-a.com{path}",
        "http://127.0.0.1:{port}{path}",  # loopback not admitted here (production)
        "http://127.1:{port}{path}",
        "http://[::ffff:127.0.0.1]:{port}{path}",
        "https://vendor.example.com{path}\r\nX: 1",
    ]
    notify = _notify(engine, resolver, allow_loopback=False)
    refused = 0
    with receiving() as receiver:
        for url in tried:
            delivery, _ = _hook(engine, receiver, url)
            with pytest.raises(Exception) as failure:
                await ActivityEnvironment().run(notify.deliver_webhook, delivery)
            assert isinstance(failure.value, ApplicationError) and failure.value.non_retryable, url
            _, [attempt] = _log(engine, delivery)
            assert attempt.status_code is None and attempt.error.startswith("refused: "), attempt.error
            assert "Error" not in attempt.error and "10.0.0.7" not in attempt.error
            refused += 1
        assert receiver.requests == []  # nothing reached the loopback receiver
    print(f"\nSSRF spellings refused at delivery: {refused} / {len(tried)}")


@pytest.fixture
def proxy_trap(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A proxy named by the environment that records whoever calls it: the sender must ignore it."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


async def test_a_delivery_connects_to_the_address_it_checked_once_ignoring_proxies_and_never_following_a_redirect(
    engine: Engine, proxy_trap: list[str]
) -> None:
    # resolves to loopback once, then (a rebinding attack) inside: only the first answer is ever used
    resolver = StubResolver({"localhost": [["127.0.0.1"], ["10.0.0.7"], ["10.0.0.7"]]})
    notify = _notify(engine, resolver, allow_loopback=True)
    with receiving() as receiver:
        delivery, _ = _hook(engine, receiver, "http://localhost:{port}{path}")
        result = await ActivityEnvironment().run(notify.deliver_webhook, delivery)
        assert result.state == "delivered" and resolver.calls == 1
        [received] = receiver.requests
        assert received.headers["host"] == f"localhost:{receiver.port}" and received.signature_ok

        redirecting, path = _hook(engine, receiver, "http://127.0.0.1:{port}{path}")
        receiver.answers[path] = 302
        with pytest.raises(ApplicationError):
            await ActivityEnvironment().run(notify.deliver_webhook, redirecting)
        _, [attempt] = _log(engine, redirecting)
        assert (attempt.status_code, attempt.error) == (302, "HTTP 3xx: redirects are not followed")
        assert len(receiver.requests) == 2
    assert proxy_trap == []


async def test_the_pinned_client_reaches_a_name_only_at_the_checked_address_keeping_the_host_header() -> None:
    """vendor-a.com does not resolve to 127.0.0.1: reaching the loopback receiver proves no resolution."""
    with receiving() as receiver:
        target = check_url(f"https://vendor-a.com:{receiver.port}/x", allow_loopback=False)
        plain = type(target)("http", target.host, target.port, None)
        async with pinned_client(plain, "127.0.0.1", TIMEOUT) as client:
            answer = await client.post(f"http://vendor-a.com:{receiver.port}/x", content=b"{}")
            assert answer.status_code == 401  # the receiver answered (no secret for /x)
            with pytest.raises(httpx.ConnectError):
                await client.post(f"http://other.example.com:{receiver.port}/x", content=b"{}")
        [request] = receiver.requests
        assert request.headers["host"] == f"vendor-a.com:{receiver.port}"
