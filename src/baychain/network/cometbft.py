"""CometBFT homes: the pinned binary, `cometbft init`, config.toml and the shared genesis.

A CometBFT home holds `config/config.toml` (ports, peers, timeouts), `config/genesis.json`
(identical on every node of a network), `config/node_key.json` (the p2p identity, whose
address is the node id) and `config/priv_validator_key.json` (the consensus key), plus
`data/` (block store, state, consensus WAL).

Settings are written into the config.toml that `cometbft init` generated, line by
line, so every comment and every default the release ships stays in place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Sequence

from baychain.abci.version import COMETBFT_VERSION

REPO_ROOT = Path(__file__).resolve().parents[3]
BINARY_ENV = "BAYCHAIN_COMETBFT"

# Consensus timeouts for a handful of validators sharing a few cores. CometBFT's
# defaults (3 s propose, 1 s prevote/precommit/commit) are sized for the open internet;
# on one machine or a LAN, blocks can follow each other every few hundred milliseconds.
# timeout_propose stays long enough for a busy proposer's Python app to build its block.
# A peer's gossip routines look for votes and block parts to send every
# peer_gossip_sleep_duration when they found none: at 10 ms (CometBFT: 100 ms) a vote
# reaches every peer within ~10 ms, which cut the p99 latency at 1,000 tx/s offered in
# the four-validator bench by a third, and an idle four-node network costs no more CPU
# (docs/PERFORMANCE.md, session 5).
TUNED_CONSENSUS = {
    "timeout_propose": "1500ms",
    "timeout_propose_delta": "500ms",
    "timeout_prevote": "500ms",
    "timeout_prevote_delta": "250ms",
    "timeout_precommit": "500ms",
    "timeout_precommit_delta": "250ms",
    "timeout_commit": "300ms",
    "create_empty_blocks": True,
    "create_empty_blocks_interval": "0s",
    "peer_gossip_sleep_duration": "10ms",
}


class TxGossip(str, Enum):
    """How a node relays the transactions it admits to its peers (docs/NETWORK.md).

    FLOOD is CometBFT's own way: to every peer that did not send it. In a full mesh of N
    nodes a transaction then crosses the network up to N(N-1) times, and all but N-1 of
    the copies are duplicates the receiver reads, decodes and looks up only to drop. In
    a RING each founding member always relays to the next one in genesis order (through
    `unconditional_peer_ids`, which the limit below does not count) and to at most
    TX_GOSSIP_EXTRA_PEERS more of its persistent peers: every transaction still reaches
    every node, over more hops. In the four-validator bench on two cores the ring cut
    CometBFT's CPU per transaction by about a fifth and raised the committed rate by
    6-30 %, but each extra hop waits for a CheckTx on a node that may be executing a
    block, and the p99 latency at 1,000 tx/s offered rose from 0.79-1.07 to 1.06-1.83 s
    (docs/PERFORMANCE.md, session 6). So FLOOD is the default, and RING an option for
    networks short of CPU. Peers that are not persistent (a member added later, which
    dials the founders) are never limited.
    """

    FLOOD = "flood"
    RING = "ring"


TX_GOSSIP_EXTRA_PEERS = 1
TX_GOSSIP_MIN_NODES = 4
"""Below four nodes, the successor and one more peer are already every peer."""


def gossip_successor(node_ids: Sequence[str], own: str) -> str | None:
    """The node id `own` always relays transactions to: the next of `node_ids` (the
    founding members in genesis order), wrapping around; None when the network is too
    small for the ring to save anything or `own` is not a founding member."""
    if len(node_ids) < TX_GOSSIP_MIN_NODES or own not in node_ids:
        return None
    return node_ids[(node_ids.index(own) + 1) % len(node_ids)]


def gossip_settings(successor: str | None) -> dict[tuple[str, str], Any]:
    """config.toml settings for a place in the transaction gossip ring (above); without a
    successor, CometBFT's defaults (relay to every peer)."""
    return {
        ("p2p", "unconditional_peer_ids"): successor or "",
        ("mempool", "experimental_max_gossip_connections_to_persistent_peers"): TX_GOSSIP_EXTRA_PEERS if successor else 0,
    }


class CometbftNotFound(RuntimeError):
    """The pinned cometbft binary is missing or reports another version."""


def find_binary() -> str:
    """The pinned cometbft binary: $BAYCHAIN_COMETBFT, <repo>/.tools/bin/cometbft, or PATH."""
    candidates = [os.environ.get(BINARY_ENV, ""), str(REPO_ROOT / ".tools" / "bin" / "cometbft"), shutil.which("cometbft") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise CometbftNotFound("cometbft binary not found; run scripts/install-cometbft.sh (or set BAYCHAIN_COMETBFT)")


def binary_version(binary: str) -> str:
    out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30)
    first = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    return first.lstrip("v").split("+")[0]


def check_binary(binary: str | None = None) -> str:
    """The binary, after checking it is the pinned release (raises CometbftNotFound)."""
    binary = binary or find_binary()
    version = binary_version(binary)
    if version != COMETBFT_VERSION.lstrip("v"):
        raise CometbftNotFound(
            f"{binary} is CometBFT {version or '?'}, baychain pins {COMETBFT_VERSION}; run scripts/install-cometbft.sh"
        )
    return binary


# -- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeKeys:
    """The public half of a CometBFT home's identity: what other members need to know."""

    node_id: str  # lower-case hex; peers dial `node_id@host:port`
    validator_address: str  # upper-case hex, as genesis and block headers show it
    validator_pub_key: str  # base64 Ed25519 public key


def init_home(home: Path, binary: str | None = None, *, moniker: str | None = None) -> NodeKeys:
    """Create a CometBFT home with fresh keys (`cometbft init`); an existing one is kept."""
    binary = binary or find_binary()
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([binary, "init", "--home", str(home)], check=True, capture_output=True, timeout=60)
    if moniker:
        set_config(home, {("", "moniker"): moniker})
    return read_keys(home)


def read_keys(home: Path) -> NodeKeys:
    node_key = json.loads((home / "config" / "node_key.json").read_text())
    private = base64.b64decode(node_key["priv_key"]["value"])  # Ed25519 seed || public key
    node_id = hashlib.sha256(private[32:]).digest()[:20].hex()
    validator = json.loads((home / "config" / "priv_validator_key.json").read_text())
    return NodeKeys(node_id, validator["address"].upper(), validator["pub_key"]["value"])


def validator_seed(home: Path) -> bytes:
    """The Ed25519 seed of the home's validator key (only a drill signs with it: CometBFT
    alone signs votes)."""
    validator = json.loads((home / "config" / "priv_validator_key.json").read_text())
    return base64.b64decode(validator["priv_key"]["value"])[:32]  # seed || public key


# -- config.toml -----------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is JSON-compatible for these values
    raise TypeError(f"unsupported config value {value!r}")


def set_config(home: Path, settings: Mapping[tuple[str, str], Any]) -> None:
    """Set `key = value` in config.toml per (section, key); "" is the top level.

    Every key must already exist (CometBFT writes them all); a missing one is an error,
    which catches typos and keys a release renamed.
    """
    path = home / "config" / "config.toml"
    section = ""
    done: set[tuple[str, str]] = set()
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        header = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if header:
            section = header.group(1).strip()
            continue
        match = re.match(r"^(\s*)([A-Za-z0-9_.-]+)\s*=", line)
        if match and (section, match.group(2)) in settings:
            key = (section, match.group(2))
            lines[i] = f"{match.group(1)}{match.group(2)} = {toml_value(settings[key])}"
            done.add(key)
    missing = set(settings) - done
    if missing:
        raise KeyError(f"settings not found in {path}: {sorted(missing)}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def read_config(home: Path) -> dict[str, Any]:
    with open(home / "config" / "config.toml", "rb") as f:
        return tomllib.load(f)


def node_settings(
    *,
    moniker: str,
    ports: Mapping[str, int],
    persistent_peers: list[str],
    host: str = "127.0.0.1",
    p2p_listen: str | None = None,
    rpc_listen: str | None = None,
    external_host: str | None = None,
    one_host: bool = True,
    filter_peers: bool = False,
    log_level: str = "info",
    cometbft_metrics: bool = True,
    gossip_to: str | None = None,
) -> dict[tuple[str, str], Any]:
    """config.toml settings for one node.

    RPC, ABCI and Prometheus listen on `host` (loopback by default: only the node's
    own process and its operator talk to them; `rpc_listen` moves the RPC elsewhere, e.g.
    so that members can reach it to anchor a joining node's state sync). The p2p port listens on `p2p_listen`
    (default `host`) and is announced as `external_host` (default `host`). With
    `one_host` — every node of the network on one machine — CometBFT must accept
    several peers from one IP and non-routable addresses. `cometbft_metrics` serves
    CometBFT's Prometheus metrics; their per-message counters cost each CometBFT ~15 %
    of its CPU (the port is reserved either way, so they can be turned on later).
    `gossip_to` is the node's successor in the transaction gossip ring (`gossip_successor`).
    """
    settings: dict[tuple[str, str], Any] = {
        ("", "moniker"): moniker,
        ("", "proxy_app"): f"tcp://{host}:{ports['abci']}",
        ("", "log_level"): log_level,
        ("", "filter_peers"): filter_peers,
        ("rpc", "laddr"): f"tcp://{rpc_listen or host}:{ports['rpc']}",
        ("rpc", "max_request_batch_size"): 1000,
        ("rpc", "max_body_bytes"): 64 * 1024 * 1024,
        ("p2p", "laddr"): f"tcp://{p2p_listen or host}:{ports['p2p']}",
        ("p2p", "external_address"): f"{external_host or host}:{ports['p2p']}",
        ("p2p", "persistent_peers"): ",".join(persistent_peers),
        ("p2p", "allow_duplicate_ip"): one_host,
        ("p2p", "addr_book_strict"): not one_host,
        # A restarted peer is redialled at least every 2 s instead of with a backoff
        # that grows without bound.
        ("p2p", "persistent_peers_max_dial_period"): "2s",
        ("p2p", "flush_throttle_timeout"): "10ms",
        # baychain indexes its own receipts and events (its block store, /v1/txs,
        # /v1/events); CometBFT's own tx indexer would store every transaction and
        # event attribute a second time, at ~40 us of CPU per transaction per node.
        ("tx_index", "indexer"): "null",
        ("instrumentation", "prometheus"): cometbft_metrics,
        ("instrumentation", "prometheus_listen_addr"): f"{host}:{ports['prometheus']}",
    }
    settings.update(gossip_settings(gossip_to))
    for key, value in TUNED_CONSENSUS.items():
        settings[("consensus", key)] = value
    return settings


def endpoints(home: Path) -> tuple[str, str]:
    """(ABCI address, RPC base URL) from a home's config.toml."""
    config = read_config(home)
    rpc = config["rpc"]["laddr"]
    if not rpc.startswith("tcp://"):
        raise ValueError(f"{home}: rpc.laddr {rpc!r} is not a tcp:// address")
    host, _, port = rpc[len("tcp://") :].rpartition(":")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    return config["proxy_app"], f"http://{host}:{port}"


# -- genesis -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenesisValidator:
    name: str
    address: str
    pub_key: str
    power: int = 10


def build_genesis(
    *, chain_id: str, genesis_time: str, validators: list[GenesisValidator], app_state: dict[str, Any]
) -> dict[str, Any]:
    """CometBFT's genesis document for a new chain (consensus params: the release's
    defaults, app version 1 as the application's Info reports it)."""
    if len({v.address for v in validators}) != len(validators):
        raise ValueError("two validators share one consensus key")
    return {
        "genesis_time": genesis_time,
        "chain_id": chain_id,
        "initial_height": "1",
        "consensus_params": {
            "block": {"max_bytes": "22020096", "max_gas": "-1"},
            "evidence": {"max_age_num_blocks": "100000", "max_age_duration": "172800000000000", "max_bytes": "1048576"},
            "validator": {"pub_key_types": ["ed25519"]},
            "version": {"app": "1"},
            "abci": {"vote_extensions_enable_height": "0"},
        },
        "validators": [
            {
                "address": v.address,
                "pub_key": {"type": "tendermint/PubKeyEd25519", "value": v.pub_key},
                "power": str(v.power),
                "name": v.name,
            }
            for v in validators
        ],
        "app_hash": "",
        "app_state": app_state,
    }


def write_genesis(home: Path, genesis: dict[str, Any]) -> None:
    path = home / "config" / "genesis.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(genesis, indent=2) + "\n")
    tmp.replace(path)
