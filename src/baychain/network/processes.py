"""Running a local network: detached node processes, pid files, logs and health.

`baychain net up` starts every node as its own detached process —
`python -m baychain.cli.node_cmd start --home <home>` in a new session (so it and
its cometbft child form one process group), with PYTHONHASHSEED=0, output appended
to `<home>/node.log` and its pid in `<home>/node.pid` — then waits until every
node's API answers /health and every node's height has advanced. `net down` sends
SIGTERM (the node stops CometBFT, then itself) and SIGKILLs the process group of
any node still alive after a grace period. A pid file is trusted only while that pid
still runs this node's command line, so a stale file never gets another process
signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx

from baychain.network.home import NodeHome
from baychain.network.manifest import NetworkManifest, NodeEntry
from baychain.network.rpc import CometRpc, RpcError

NODE_MODULE = "baychain.cli.node_cmd"


class NetworkError(RuntimeError):
    """A node did not start, stop or become healthy in time."""


def node_command(home: Path) -> list[str]:
    return [sys.executable, "-m", NODE_MODULE, "start", "--home", str(Path(home).resolve())]


def node_env() -> dict[str, str]:
    """The environment of a node process: a fixed hash seed (determinism), unbuffered output."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- pids --------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs_node(pid: int, home: Path) -> bool:
    """Whether `pid` is the node process of `home` (not a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)  # no /proc: trust the pid file
    return NODE_MODULE.encode() in argv and str(home.resolve()).encode() in argv


def running_pid(home: NodeHome) -> int | None:
    """The pid of the node running in `home`, or None (a stale pid file is removed)."""
    try:
        pid = int(home.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if _alive(pid) and _runs_node(pid, home.path):
        return pid
    home.pid_file.unlink(missing_ok=True)
    return None


# -- start and stop ----------------------------------------------------------------------------


def start_node(home: NodeHome) -> int:
    """Start the node in `home` detached (no-op if it runs); its pid."""
    pid = running_pid(home)
    if pid is not None:
        return pid
    if not home.exists():
        raise NetworkError(f"{home.path} is not a node home; run `baychain net init`")
    with open(home.log_file, "ab") as log:
        log.write(f"\n=== node start {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
        log.flush()
        proc = subprocess.Popen(
            node_command(home.path), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=node_env(), close_fds=True,
        )
    # Until the child has exec'd, /proc shows our own command line, and the pid file
    # would look stale to running_pid(); wait for the exec (or an early exit).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None and not _runs_node(proc.pid, home.path):
        time.sleep(0.01)
    if proc.poll() is not None:
        raise NetworkError(f"node in {home.path} exited at once (status {proc.returncode})\n{log_tail(home.log_file)}")
    home.pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def kill_node(home: NodeHome) -> bool:
    """SIGKILL the node's whole process group (node and cometbft): a crash, on purpose."""
    pid = running_pid(home)
    if pid is None:
        return False
    _kill_group(pid, signal.SIGKILL)
    _wait_gone(pid, 10)
    home.pid_file.unlink(missing_ok=True)
    return True


def stop_node(home: NodeHome, timeout: float = 20.0) -> bool:
    """SIGTERM the node and wait; SIGKILL its process group after `timeout` seconds.
    Whether a node was running."""
    pid = running_pid(home)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not _wait_gone(pid, timeout):
        _kill_group(pid, signal.SIGKILL)
        _wait_gone(pid, 10)
    else:
        _kill_group(pid, signal.SIGKILL)  # anything left in its group (normally nothing)
    home.pid_file.unlink(missing_ok=True)
    return True


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


# -- health and status ---------------------------------------------------------------------------


def api_get(entry: NodeEntry, path: str, timeout: float = 3.0) -> dict[str, Any] | None:
    try:
        resp = httpx.get(entry.api_url + path, timeout=timeout)
        return resp.json()
    except (httpx.HTTPError, ValueError):
        return None


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        with open(path, "rb") as f:
            return b"".join(deque(f, maxlen=lines)).decode(errors="replace")
    except OSError:
        return "(no log)"


def wait_healthy(
    manifest: NetworkManifest,
    names: list[str] | None = None,
    *,
    timeout: float = 90.0,
    advance: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Wait until every named node answers /health ok and has then committed `advance`
    more blocks; the heights reached. Raises NetworkError with the log tail of a node
    that died or stayed unhealthy."""
    names = names or manifest.names
    deadline = time.monotonic() + timeout
    first: dict[str, int] = {}
    reached: dict[str, int] = {}
    while True:
        for name in names:
            if name in reached:
                continue
            home = NodeHome(manifest.home(name))
            if running_pid(home) is None:
                raise NetworkError(f"node {name} is not running\n--- {home.log_file} ---\n{log_tail(home.log_file)}")
            health = api_get(manifest.node(name), "/health")
            if not health or health.get("status") != "ok":
                continue
            height = int(health.get("height", 0))
            if name not in first:
                first[name] = height
                if progress:
                    progress(f"{name}: healthy at height {height}")
            if height >= first[name] + advance:
                reached[name] = height
        if len(reached) == len(names):
            return reached
        if time.monotonic() > deadline:
            slow = [n for n in names if n not in reached]
            tails = "\n".join(
                f"--- {n} ---\n{log_tail(NodeHome(manifest.home(n)).log_file, 15)}" for n in slow
            )
            raise NetworkError(f"nodes not healthy and advancing within {timeout:.0f} s: {', '.join(slow)}\n{tails}")
        time.sleep(0.2)


@dataclass
class NodeStatus:
    name: str
    organisation: str
    jurisdiction: str
    role: str
    pid: int | None
    api: str
    height: int | None = None
    app_hash: str | None = None
    peers: int | None = None
    catching_up: bool | None = None
    health: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def node_status(manifest: NetworkManifest, name: str) -> NodeStatus:
    entry = manifest.node(name)
    home = NodeHome(manifest.home(name))
    status = NodeStatus(
        name=name, organisation=entry.member.organisation, jurisdiction=entry.member.jurisdiction,
        role=entry.member.role, pid=running_pid(home), api=entry.api_url,
    )
    if status.pid is None:
        status.health = "down"
        return status
    doc = api_get(entry, "/v1/status")
    if doc:
        status.height = doc.get("height")
        status.app_hash = doc.get("app_hash")
    health = api_get(entry, "/health")
    status.health = (health or {}).get("status", "unreachable")
    try:
        with CometRpc(entry.rpc_url, timeout=3) as rpc:
            status.peers = int(rpc.net_info()["n_peers"])
            status.catching_up = bool(rpc.status()["sync_info"]["catching_up"])
    except (RpcError, KeyError, ValueError):
        pass
    return status
