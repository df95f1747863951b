"""Fire drills on a local network: show that a fault is caught and recorded, for real.

`double_sign(directory, name)` makes one validator of a local network (`baychain net
init`) sign two different prevotes for one recent height, as a validator key copied onto
a second machine would, and hands that proof to another member's CometBFT
(`broadcast_evidence`). CometBFT verifies it and commits it; every node's application
records a `validator_misbehavior` alert naming the node (docs/NETWORK.md,
"Misbehaviour"). The drill waits for the alert and returns it. Only the holder of a
validator key can do this, so it is for networks whose keys are all on this machine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from baychain.contracts.system.network import MISBEHAVIOR_ALERT
from baychain.errors import BaychainError, Code
from baychain.network import cometbft, evidence
from baychain.network.home import NodeHome
from baychain.network.manifest import NetworkManifest
from baychain.network.rpc import CometRpc, RpcError


def double_sign(directory: Path, name: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """Evidence that validator `name` signed twice, submitted to another member; the
    alert the chain records for it (NOT_FOUND: no such node or not a validator;
    UNAVAILABLE: no member answers; TIMEOUT: no alert within `timeout` seconds)."""
    from baychain.sdk import Client
    from baychain.sdk.governance import Governance

    manifest = NetworkManifest.load(directory)
    if name not in manifest.names:
        raise BaychainError(Code.NOT_FOUND, f"no node named {name!r}; nodes: {', '.join(manifest.names)}")
    seed = cometbft.validator_seed(NodeHome(manifest.home(name)).cometbft)
    others = [n for n in manifest.nodes if n.name != name] or list(manifest.nodes)
    with Client(others[0].api_url, timeout=20) as client:
        before = Governance(client).alerts(0, 1)["count"]  # the alert will come after these
    with CometRpc(others[0].rpc_url) as rpc:
        try:
            height = int(rpc.call("status")["sync_info"]["latest_block_height"]) - 1
            if height < 1:
                raise BaychainError(Code.HEIGHT_UNAVAILABLE, "the network has not committed two blocks yet")
            header_time = rpc.call("header", height=str(height))["header"]["time"]
            validators = rpc.call("validators", height=str(height), per_page="100")["validators"]
            try:
                proof = evidence.duplicate_vote(manifest.chain_id, seed, height, header_time, validators)
            except ValueError:
                raise BaychainError(Code.NOT_FOUND, f"{name} is not a validator at height {height}") from None
            rpc.call("broadcast_evidence", evidence=proof)
        except RpcError as exc:
            raise BaychainError(Code.UNAVAILABLE, f"{others[0].name}'s CometBFT: {exc}") from None
    address = proof["value"]["vote_a"]["validator_address"].lower()
    deadline = time.monotonic() + timeout
    with Client(others[0].api_url, timeout=20) as client:
        while True:
            alerts = Governance(client).alerts(before, 500, MISBEHAVIOR_ALERT)["alerts"]
            found = [a for a in alerts if a["attributes"]["validator"] == address
                     and a["attributes"]["evidence_height"] == str(height)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise BaychainError(Code.TIMEOUT, f"no alert for {name}'s double signing within {timeout:.0f} s")
            time.sleep(0.3)
