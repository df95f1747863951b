"""The walkthrough behind `baychain demo`: a local chain used by GBA institutions.

It starts a node (embedded engine + HTTP API), then plays the platform's core through
the SDK exactly as an application would: members from Guangdong, Hong Kong and Macao
register, a trade contract is notarized and verified by another institution from a
Merkle proof (trusting no node), a points programme runs with conservation checked
from proofs, and forged or replayed transactions are refused with stable codes. The
node and API keep running afterwards for exploring.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

from baychain import encoding
from baychain.errors import BaychainError
from baychain.sdk.client import Client
from baychain.sdk.keys import Key

Say = Callable[[str], None]

MEMBERS = [
    ("gd-core-enterprise", "GD", "core enterprise, Shenzhen"),
    ("gd-bank", "GD", "bank, Guangzhou"),
    ("hk-bank", "HK", "bank, Hong Kong"),
    ("hk-logistics", "HK", "logistics, Kwai Chung"),
    ("mo-importer", "MO", "food importer, Macao"),
    ("gba-regulator", "GD", "regulator"),
]


def walkthrough(client: Client, say: Say) -> dict[str, Any]:
    """Run every step against a live node; raise if any step does not behave as it must."""
    status = client.status()
    say(f"[bold]Chain[/] {status['chain_id']} at height {status['height']}, engine {status['engine']}")
    keys = {name: Key.generate() for name, _, _ in MEMBERS}

    say("\n[bold]1. Members register[/] (names and jurisdictions on chain)")
    for name, jurisdiction, role in MEMBERS:
        receipt = client.call(keys[name], "accounts", "register", {"name": name, "metadata": {"jurisdiction": jurisdiction, "role": role}})
        say(f"   {name:<20} {jurisdiction}  {keys[name].address}  block {receipt.height}")

    say("\n[bold]2. A trade contract is notarized[/] by the Shenzhen core enterprise")
    contract_text = "Purchase contract GBA-2026-0042: 20,000 units, CNY 1,250,000.00, delivery Kwai Chung".encode()
    digest = hashlib.sha256(contract_text).digest()
    receipt = client.notarize(keys["gd-core-enterprise"], digest, {"title": "purchase contract GBA-2026-0042"})
    say(f"   digest {digest.hex()[:16]}… anchored in block {receipt.height} (tx {receipt.hash[:16]}…)")
    record = client.verify_notarization(digest)
    if record is None or record["owner"] != keys["gd-core-enterprise"].address:
        raise RuntimeError("the notarization could not be proven")
    say("   hk-bank checks it from a Merkle proof against the block's app hash: [green]verified[/]")
    tampered = hashlib.sha256(contract_text.replace(b"1,250,000", b"1,950,000")).digest()
    if client.verify_notarization(tampered) is not None:
        raise RuntimeError("a tampered contract verified")
    say("   the same contract with one amount changed: [red]proven absent[/] (never notarized)")

    say("\n[bold]3. A points programme[/] run by the Guangdong bank")
    bank, importer, logistics = keys["gd-bank"], keys["mo-importer"], keys["hk-logistics"]
    client.call(bank, "points", "create", {"symbol": "BAYPTS", "title": "Bay Area loyalty points"})
    client.call(bank, "points", "issue", {"symbol": "BAYPTS", "to": importer.address, "amount": 5_000})
    client.call(importer, "points", "transfer", {"symbol": "BAYPTS", "to": logistics.address, "amount": 1_200})
    balances = {n: client.points_balance("BAYPTS", keys[n].address) for n in ("mo-importer", "hk-logistics")}
    supply = client.view("points", "info", {"symbol": "BAYPTS"})["supply"]
    for name, amount in balances.items():
        say(f"   {name:<20} {amount:>6} points (proof-checked)")
    if sum(balances.values()) != supply:
        raise RuntimeError("points supply differs from the sum of balances")
    say(f"   supply {supply} = sum of balances: [green]conserved[/]")

    say("\n[bold]4. Bad input is refused[/] with stable codes, changing nothing")
    replay = client.build_tx(importer, "points", "transfer", {"symbol": "BAYPTS", "to": logistics.address, "amount": 1}, nonce=0)
    for label, raw in (
        ("replayed nonce", replay.raw),
        ("forged signature", encoding.encode([replay.body, bytes(64)])),
        ("garbage bytes", b"\x00\x01"),
    ):
        try:
            client.submit(raw, wait=True)
        except BaychainError as exc:
            say(f"   {label:<20} → {exc.code.name} ({int(exc.code)}): {exc.message}")
        else:
            raise RuntimeError(f"{label} was accepted")
    try:
        client.call(logistics, "points", "transfer", {"symbol": "BAYPTS", "to": importer.address, "amount": 10**6})
    except BaychainError as exc:
        say(f"   {'overspend':<20} → {exc.code.name} ({int(exc.code)}): committed as failed, balances unchanged")

    status = client.status()
    say(f"\n[bold]Done.[/] height {status['height']}, app hash {status['app_hash'][:16]}…")
    return {"keys": keys, "digest": digest, "status": status}


def run_demo(home: Path, host: str, port: int, *, serve: bool, say: Say) -> dict[str, Any]:
    """Start a node in `home`, run the walkthrough, and keep serving if asked."""
    import uvicorn

    from baychain.api.server import create_api
    from baychain.node import NodeConfig, SoloNode

    say("[yellow]Running on the embedded engine (one node).[/] Multi-validator CometBFT networks: see docs/ABCI.md.")
    node = SoloNode(NodeConfig(home=home, chain_id="baychain-demo", block_interval=0.1))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_api(node), log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    node.start()
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        with Client(url) as client:
            result = walkthrough(client, say)
        say(f"\nAPI: {url}  (OpenAPI docs at {url}/docs; events at {url}/v1/events/stream)")
        if serve:
            say("The node keeps running; press Ctrl-C to stop.")
            while thread.is_alive():
                thread.join(1)
        return result
    finally:
        server.should_exit = True
        thread.join(5)
        node.stop()
