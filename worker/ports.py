"""Is a port free, and if not, who holds it: for `slatrack up`, before it starts anything.

The holder is found with nothing but /proc (Linux): the listening socket's inode in /proc/net/tcp
and tcp6 (this network namespace), then the process with a file descriptor on `socket:[inode]` in
/proc/*/fd. Another user's processes are not readable without root, and a process in another
container (or a port published by Docker) is not in this namespace's view: then the message says
it cannot tell, and how to find out.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column


@dataclass(frozen=True)
class Holder:
    pid: int
    name: str  # /proc/<pid>/comm
    command: str  # /proc/<pid>/cmdline, shortened

    def describe(self) -> str:
        return f"pid {self.pid} ({self.name}: {self.command})"


def bind_error(port: int, host: str = "127.0.0.1") -> OSError | None:
    """None if we could listen on host:port now; else why not (EADDRINUSE, EACCES, ...)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as servers do: a port whose last connections linger in TIME_WAIT is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None


def listening_inodes(port: int, proc: Path = PROC) -> set[int]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                inodes.add(int(fields[9]))
    return inodes


def holders(port: int, proc: Path = PROC) -> list[Holder]:
    """The processes with a listening socket on this port, as far as this user can see."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port, proc)}
    found: list[Holder] = []
    if not wanted:
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:  # another user's process, or it just exited
            continue
        if _links(fds) & wanted:
            found.append(_holder(entry))
    return sorted(found, key=lambda h: h.pid)


def _links(fds: list[Path]) -> set[str]:
    links = set()
    for fd in fds:
        try:
            links.add(fd.readlink().as_posix())
        except OSError:  # closed since listed (the listing's own descriptor, for one)
            continue
    return links


def _holder(entry: Path) -> Holder:
    try:
        name = (entry / "comm").read_text().strip()
        argv = (entry / "cmdline").read_bytes().split(b"\0")
        command = " ".join(" ".join(a.decode(errors="replace").split()) for a in argv if a)
    except OSError:
        name, command = "?", "?"
    if len(command) > 160:
        command = command[:157] + "..."
    return Holder(int(entry.name), name, command)


def who_holds(port: int, proc: Path = PROC) -> str:
    found = holders(port, proc)
    if found:
        return "in use by " + ", ".join(h.describe() for h in found)
    return (
        "in use by a process slatrack cannot identify (another user's, or outside this container's "
        f"network namespace; `sudo ss -ltnp 'sport = :{port}'` names it)"
    )


def next_free(port: int, taken: set[int]) -> int | None:
    for candidate in range(port + 1, min(port + 100, 65536)):
        if candidate not in taken and bind_error(candidate) is None:
            return candidate
    return None


def check_ports(ports: dict[str, tuple[int, str]]) -> list[str]:
    """One problem per port that cannot be used: {what: (port, its `slatrack up` flag)}; [] if all free.
    A flag --x-port has the setting SLA_X_PORT."""
    problems: list[str] = []
    by_port: dict[int, list[str]] = {}
    for what, (port, _) in ports.items():
        by_port.setdefault(port, []).append(what)
    for port, users in by_port.items():
        if len(users) > 1:
            problems.append(f"port {port} is given to both {' and '.join(users)}; each needs its own")
    taken = {port for port, _ in ports.values()}
    for what, (port, flag) in ports.items():
        error = bind_error(port)
        if error is None:
            continue
        if error.errno == errno.EADDRINUSE:
            why = who_holds(port)
        elif error.errno == errno.EACCES:
            why = "not allowed to this user (ports below 1024 need root)"
        else:
            why = f"not usable ({error.strerror})"
        alternative = next_free(port, taken)
        hint = f"; pick another, e.g. `slatrack up {flag} {alternative}`" if alternative else ""
        setting = "SLA_" + flag.removeprefix("--").upper().replace("-", "_")
        problems.append(f"port {port} ({what}: {flag} or {setting}) is {why}{hint}")
    return problems
