"""Free loopback ports for a local network.

Every node of a network on one machine needs its own p2p, RPC, ABCI, API and
Prometheus port, picked once at `net init` and kept across restarts. They are chosen
*below* the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
default): a port inside it could be taken, while its node is down, as the source
port of some outgoing connection — a peer's redial, a client — and the restarted node
could not bind it again. Each candidate is checked by binding it.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST_PORT = 20000


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_ports(count: int, host: str = "127.0.0.1", *, rng: random.Random | None = None) -> list[int]:
    """`count` distinct ports that are free on `host` now and outside the ephemeral range."""
    rng = rng or random.SystemRandom()
    low, high = ephemeral_range()
    ranges = [(LOWEST_PORT, low - 1)] if low - 1 - LOWEST_PORT >= 1000 else []
    if high < 65535 - 1000:
        ranges.append((high + 1, 65535))
    chosen: list[int] = []
    for _ in range(count * 200):
        if len(chosen) == count or not ranges:
            break
        lo, hi = rng.choice(ranges)
        port = rng.randint(lo, hi)
        if port not in chosen and port_is_free(port, host):
            chosen.append(port)
    while len(chosen) < count:  # no room outside the ephemeral range: let the kernel pick
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in chosen:
            chosen.append(port)
    return chosen
