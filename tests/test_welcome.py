"""The curl example `make run` prints works when pasted into a shell, as the README promises."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import subprocess
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
