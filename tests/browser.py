"""Headless Chromium driven over the Chrome DevTools Protocol on a pipe (--remote-debugging-pipe):
no websocket client and no npm package needed, only Debian's `chromium`.

The protocol on the pipe: JSON messages, each ended by a NUL byte; Chromium reads commands on its
fd 3 and writes answers and events on its fd 4. One page, attached with a flat session.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is missing: `make test` installs Debian's chromium package (make system-deps)")
    return path


class Browser:
    def __init__(self, profile: Path, log: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # fds 3 and 4 in the child, set up by bash (dash takes one-digit fds only): Popen has no fd
        # mapping, and preexec_fn is unsafe in a process with threads (the test's uvicorn). The
        # child's ends first move above 100, so `3<&N` never reads a descriptor already replaced.
        to_browser_r, from_browser_w = (self._above_100(fd) for fd in (to_browser_r, from_browser_w))
        command = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            ["bash", "-c", command, chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    @staticmethod
    def _above_100(fd: int) -> int:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)
        os.close(fd)
        return moved

    def call(self, method: str, timeout: float = 15, session: bool = False, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for answer in self._messages(deadline, method):
                if answer.get("id") == self._next_id:
                    if "error" in answer:
                        raise AssertionError(f"{method}: {answer['error']}")
                    return dict(answer.get("result", {}))

    def _messages(self, deadline: float, method: str) -> list[dict[str, Any]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"chromium did not answer {method} in time")
        ready, _, _ = select.select([self._from_browser], [], [], remaining)
        if not ready:
            raise AssertionError(f"chromium did not answer {method} in time")
        chunk = os.read(self._from_browser, 1 << 20)
        if not chunk:
            raise AssertionError(f"chromium exited (code {self.process.poll()}) during {method}")
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\0")
        return [json.loads(item) for item in complete if item]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, timeout: float = 30) -> None:
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", timeout)

    def wait_for(self, expression: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(expression):
                    return
            except AssertionError as error:  # between two documents there is none to evaluate in
                if "navigated" not in str(error) and "context" not in str(error):
                    raise
            time.sleep(0.25)
        raise AssertionError(f"not true within {timeout:.0f} s: {expression}")

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''"))

    def close(self) -> None:
        with contextlib.suppress(AssertionError):  # it may close before it answers
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()
