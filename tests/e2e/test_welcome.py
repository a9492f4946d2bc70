"""What `make run` prints works: the curl example pasted into a shell, as the README promises; and the
stack it describes is wired as printed (codec endpoint, embedded flag, UI origin)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from worker.stack import Stack, print_welcome


async def test_the_printed_curl_example_opens_a_request_and_sends_an_event(live: Any) -> None:
    port = int(live.base_url.rsplit(":", 1)[1])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_welcome(Stack(api_port=port), {"coordinator (vendor-reliable)": live.keys["coordinator"]})
    commands = re.findall(r"^  curl .*?(?=^  curl |\Z)", out.getvalue(), re.M | re.S)
    assert len(commands) == 2

    def shell(command: str) -> str:
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=True).stdout

    opened = json.loads(await asyncio.to_thread(shell, commands[0]))
    assert opened["service_id"] == "axa.green_channel.inpatient"
    sent = json.loads(await asyncio.to_thread(shell, commands[1].replace("<id>", opened["id"])))
    assert [e["type"] for e in sent["events"]] == ["request_opened", "eligibility_approved"]


def test_the_stack_points_the_ui_at_the_codec_server_and_marks_itself_embedded(tmp_path: Path) -> None:
    stack = Stack(temporal_port=17001, ui_port=17002, api_port=17003, worker_metrics_port=17004, data=tmp_path)
    command = stack.temporal_command()
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:17003/codec"
    assert command[command.index("--ui-port") + 1] == "17002"
    env = stack.environment()
    assert env["SLA_EMBEDDED"] == "true"
    assert env["TEMPORAL_ADDRESS"] == "127.0.0.1:17001"
    assert env["SLA_WORKER_METRICS_BIND"] == "127.0.0.1:17004"
    assert env["SLA_CODEC_CORS_ORIGINS"] == "http://127.0.0.1:17002,http://localhost:17002"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_welcome(stack, {"coordinator (vendor-reliable)": "sk_x_y"})
    assert "http://127.0.0.1:17003/codec/login" in " ".join(out.getvalue().split())
