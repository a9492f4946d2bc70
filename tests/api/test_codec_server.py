"""The codec server (/codec) speaks Temporal's codec server protocol over real HTTP: the request shape
the web UI and the CLI send, who may call it, CORS for the UI's origin, the sign-in cookie, and the
real `temporal` CLI decoding a live workflow's history through it."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
from typing import Any

import httpx
from temporalio.api.common.v1 import Payload

from api.sessions import COOKIE
from harness.keys import TEST_KEYS
from harness.live_stack import LiveStack
from harness.servers import binary
from runtime.codec import ENCODING, KEY_ID_FIELD
from runtime.temporal import build_data_converter

UI_ORIGIN = "http://127.0.0.1:8233"  # the embedded UI, allowed by default
CANARY = {"insured": {"name": "解码可见-王五", "id_number": "110101199001011237"}, "policy_no": "P-CODEC-1"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wire(payload: Payload) -> dict[str, Any]:
    """A payload as the protocol carries it: proto3 JSON, every metadata value and the data base64."""
    return {"metadata": {k: b64(v) for k, v in payload.metadata.items()}, "data": b64(payload.data)}


def unwire(item: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in item.get("metadata", {}).items()},
        data=base64.b64decode(item.get("data", "")),
    )


async def encrypted(value: Any) -> Payload:
    (payload,) = await build_data_converter(TEST_KEYS).encode([value])
    return payload


def protocol_headers(live: LiveStack, role: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Namespace": "default"}
    return headers | (live.headers(role) if role else {})


async def test_decode_answers_the_protocol_shape_with_the_plain_payloads(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    sealed = [await encrypted(CANARY), await encrypted("second")]
    assert all(p.metadata["encoding"] == ENCODING for p in sealed)
    response = await http.post(
        "/codec/decode",
        content=json.dumps({"payloads": [wire(p) for p in sealed]}),
        headers=protocol_headers(live, "auditor"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["payloads"] and len(body["payloads"]) == 2
    first, second = (unwire(item) for item in body["payloads"])
    assert first.metadata["encoding"] == b"json/plain"
    assert json.loads(first.data) == CANARY
    assert json.loads(second.data) == "second"
    # an unencrypted payload passes through, an empty list is an empty list
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"clear"')
    through = await http.post(
        "/codec/decode", content=json.dumps({"payloads": [wire(plain)]}), headers=protocol_headers(live, "admin")
    )
    assert unwire(through.json()["payloads"][0]) == plain
    empty = await http.post("/codec/decode", content='{"payloads": []}', headers=protocol_headers(live, "admin"))
    assert empty.json() == {"payloads": []}


async def test_encode_is_for_admins_and_round_trips(http: httpx.AsyncClient, live: LiveStack) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(CANARY).encode())
    body = json.dumps({"payloads": [wire(plain)]})
    assert (
        await http.post("/codec/encode", content=body, headers=protocol_headers(live, "auditor"))
    ).status_code == 403
    encoded = await http.post("/codec/encode", content=body, headers=protocol_headers(live, "admin"))
    assert encoded.status_code == 200, encoded.text
    sealed = unwire(encoded.json()["payloads"][0])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID_FIELD] == b"test-k1"
    assert "解码可见".encode() not in sealed.data
    (value,) = await build_data_converter(TEST_KEYS).decode([sealed])
    assert value == CANARY


async def test_without_an_auditor_or_admin_key_nothing_is_decoded(http: httpx.AsyncClient, live: LiveStack) -> None:
    body = json.dumps({"payloads": [wire(await encrypted(CANARY))]})
    missing = await http.post("/codec/decode", content=body, headers=protocol_headers(live, None))
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "解码可见" not in missing.text
    wrong = await http.post(
        "/codec/decode", content=body, headers=protocol_headers(live, None) | {"Authorization": "Bearer sk_nope_nope"}
    )
    assert wrong.status_code == 401
    for role in ("coordinator", "operations"):
        refused = await http.post("/codec/decode", content=body, headers=protocol_headers(live, role))
        assert refused.status_code == 403, role
        assert refused.headers["content-type"] == "application/problem+json"
        assert "解码可见" not in refused.text


async def test_bad_bodies_and_foreign_keys_are_client_errors(http: httpx.AsyncClient, live: LiveStack) -> None:
    headers = protocol_headers(live, "auditor")
    assert (await http.post("/codec/decode", content="not json", headers=headers)).status_code == 400
    as_text = headers | {"Content-Type": "text/plain"}
    assert (await http.post("/codec/decode", content='{"payloads": []}', headers=as_text)).status_code == 415
    foreign = Payload(metadata={"encoding": ENCODING, KEY_ID_FIELD: b"other-env"}, data=b"x" * 40)
    unknown = await http.post("/codec/decode", content=json.dumps({"payloads": [wire(foreign)]}), headers=headers)
    assert unknown.status_code == 422 and "other-env" in unknown.json()["detail"]
    sealed = await encrypted(CANARY)
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    broken = await http.post("/codec/decode", content=json.dumps({"payloads": [wire(tampered)]}), headers=headers)
    assert broken.status_code == 422


async def test_cors_preflight_answers_the_ui_origin_only(http: httpx.AsyncClient, live: LiveStack) -> None:
    request_headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    for path in ("/codec/decode", "/codec/encode"):
        for origin in (UI_ORIGIN, "http://localhost:8233"):
            allowed = await http.options(path, headers=request_headers | {"Origin": origin})
            assert allowed.status_code == 204, allowed.text
            assert allowed.headers["access-control-allow-origin"] == origin
            assert allowed.headers["access-control-allow-credentials"] == "true"
            assert "POST" in allowed.headers["access-control-allow-methods"]
            granted = {h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")}
            assert {"authorization", "content-type", "x-namespace"} <= granted
        foreign = await http.options(path, headers=request_headers | {"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert "access-control-allow-origin" not in foreign.headers
    # the answers themselves carry CORS too, errors included, so the UI can read the status
    body = json.dumps({"payloads": [wire(await encrypted("x"))]})
    ok = await http.post(
        "/codec/decode", content=body, headers=protocol_headers(live, "auditor") | {"Origin": UI_ORIGIN}
    )
    assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
    denied = await http.post(
        "/codec/decode", content=body, headers=protocol_headers(live, None) | {"Origin": UI_ORIGIN}
    )
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == UI_ORIGIN
    other = await http.post(
        "/codec/decode", content=body, headers=protocol_headers(live, "auditor") | {"Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


def _csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def _sign_in(browser: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await browser.get("/codec/login")
    assert form.status_code == 200 and 'name="key"' in form.text
    fields = {"key": key, "csrf": _csrf_of(form.text), "next": "/codec/session"}
    return await browser.post("/login", data=fields, follow_redirects=True)


async def test_signing_in_sets_a_session_cookie_the_ui_origin_may_use(live: LiveStack) -> None:
    body = json.dumps({"payloads": [wire(await encrypted(CANARY))]})
    headers = {"Content-Type": "application/json", "X-Namespace": "default"}
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as browser:
        refused = await _sign_in(browser, live.keys["coordinator"])
        assert refused.status_code == 403 and "cannot decode" in refused.text
        from_ui = await browser.post("/codec/decode", content=body, headers=headers | {"Origin": UI_ORIGIN})
        assert from_ui.status_code == 403  # signed in, but a coordinator's session decodes nothing
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as browser:
        signed_in = await _sign_in(browser, live.keys["auditor"])
        assert signed_in.status_code == 200 and 'id="signed-in"' in signed_in.text, signed_in.text
        cookie = next(c for c in signed_in.history[-1].headers.get_list("set-cookie") if c.startswith(COOKIE))
        assert live.keys["auditor"] not in cookie  # a session id, never the key
        for attribute in ("httponly", "samesite=lax", "path=/", "max-age=28800"):
            assert attribute in cookie.lower(), attribute
        from_ui = await browser.post("/codec/decode", content=body, headers=headers | {"Origin": UI_ORIGIN})
        assert from_ui.status_code == 200, from_ui.text
        assert json.loads(unwire(from_ui.json()["payloads"][0]).data) == CANARY
        # the cookie alone, from elsewhere or from no page at all, decodes nothing
        for origin in ({"Origin": "http://evil.example"}, {}):
            assert (await browser.post("/codec/decode", content=body, headers=headers | origin)).status_code == 403
        await browser.post("/logout", data={"csrf": _csrf_of(signed_in.text)})
        after = await browser.post("/codec/decode", content=body, headers=headers | {"Origin": UI_ORIGIN})
        assert after.status_code == 401


async def test_the_temporal_cli_shows_a_live_history_decoded_through_the_codec_server(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    body = {"service_id": "axa.green_channel.inpatient", "vendor_id": "vendor-reliable"} | CANARY
    opened = await http.post("/v1/requests", json=body, headers=live.headers("coordinator"))
    assert opened.status_code == 201, opened.text
    workflow_id = f"request-{opened.json()['id']}"

    def started_input(*codec: str) -> Payload:
        command = [binary("temporal"), "workflow", "show", "--address", live.temporal.address, "-w", workflow_id]
        result = subprocess.run([*command, "-o", "json", *codec], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        first = json.loads(result.stdout)["events"][0]
        return unwire(first["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0])

    auth = ["--codec-endpoint", f"{live.base_url}/codec", "--codec-auth", f"Bearer {live.keys['auditor']}"]
    decoded = await asyncio.to_thread(started_input, *auth)
    assert decoded.metadata["encoding"] == b"json/plain"
    workflow_input = json.loads(decoded.data)
    assert workflow_input["insured"] == CANARY["insured"] and workflow_input["policy_no"] == "P-CODEC-1"
    stored = await asyncio.to_thread(started_input)  # Temporal itself holds only ciphertext
    assert stored.metadata["encoding"] == ENCODING and "解码可见".encode() not in stored.data
