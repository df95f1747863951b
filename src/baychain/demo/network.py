"""Where the demo runs: a local consortium on four CometBFT validators, or on the embedded engine.

The consortium has six organisations of the three jurisdictions. Four found it and run
its validators — a Guangdong bank, a Hong Kong bank, a Macao importer and the
regulator — and hold its committee; the walkthrough then has the committee admit the
other two, a Guangdong core enterprise and a Hong Kong logistics firm.

Both engines get the same consortium, made by the same code as `baychain net init`
(`baychain.network.committee`): committee keys in `<dir>/keys`, the consortium CA in
`<dir>/ca` (a root and one organisation CA per founder, registered in the genesis),
the regulator's expedited powers, and a chain that admits only certificate-bound keys.

- `cometbft`: `init_network` writes four node homes into `<dir>` and each node runs as
  a detached process (`net up` machinery); they keep running after the demo, until
  `baychain net down --dir <dir>`.
- `solo`: one embedded node with its API, in this process, in `<dir>/node`.

Either way the walkthrough sees only the nodes' HTTP APIs (`Network.urls`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives.serialization import Encoding

from baychain.errors import BaychainError, Code
from baychain.identity.keys import ed25519_public_key
from baychain.identity.store import CADirectory
from baychain.network.committee import CA_DIR, KEYS_DIR, LOCAL_PASSPHRASE, create_ca, create_committee
from baychain.network.members import Member
from baychain.sdk.keys import Key

CHAIN_ID = "baychain-gba-demo"
DEFAULT_DIR = Path(".baychain/demo")
MARKER = "demo.json"  # marks a directory the demo made (and may replace)
COMETBFT, SOLO = "cometbft", "solo"
SNAPSHOT_INTERVAL = 50
"""Blocks between state-sync snapshots in the demo network (~17 s): the walkthrough's last
step has a node join from one (docs/NETWORK.md: a snapshot must outlive the joiner's search)."""


@dataclass(frozen=True)
class Organisation:
    """One party of the demo consortium; `slug` names its node, keys and certificates."""

    slug: str
    name: str
    jurisdiction: str
    role: str
    what: str
    founder: bool  # runs a validator and sits on the founding committee


ORGANISATIONS: tuple[Organisation, ...] = (
    Organisation("gd-bank", "Guangdong Bay Commercial Bank", "GD", "member", "bank, Guangzhou", True),
    Organisation("hk-bank", "Hong Kong Harbour Bank", "HK", "member", "bank, Central", True),
    Organisation("mo-importer", "Macao Pearl Imports", "MO", "member", "food importer, Macao", True),
    Organisation("regulator", "Greater Bay Area Joint Regulator", "GD", "regulator", "regulator", True),
    Organisation("core", "Pearl River Foods Group", "GD", "member", "core enterprise, Guangzhou", False),
    Organisation("hk-logistics", "Kwai Chung Cold Chain Logistics", "HK", "member", "logistics, Kwai Chung", False),
)
FOUNDERS = tuple(o for o in ORGANISATIONS if o.founder)
BY_SLUG = {o.slug: o for o in ORGANISATIONS}


@dataclass
class Network:
    """A running demo network: its directory, engine, node APIs and founding committee."""

    directory: Path
    engine: str
    urls: dict[str, str]  # node name -> API URL (the first is the one the walkthrough uses)
    committee: dict[str, Key]  # founder slug -> committee key
    stop: Callable[[], None] = field(repr=False)
    wait: Callable[[], None] = field(repr=False)  # block while the network serves (solo: until Ctrl-C)
    light: Any = None  # CometBFT: a light client anchored on the genesis (app hashes the validators signed)

    @property
    def api_url(self) -> str:
        return next(iter(self.urls.values()))

    @property
    def ca(self) -> CADirectory:
        return CADirectory(self.directory / CA_DIR)

    def user_certificate(self, organisation: str, name: str, key: Key) -> bytes:
        """A user certificate (PEM) for `key`, issued now by the organisation's CA in `<dir>/ca`."""
        issued = self.ca.issue(organisation, "user", name, LOCAL_PASSPHRASE, now=datetime.now(timezone.utc),
                               public_key=ed25519_public_key(key.public_key))
        return issued.certificate.public_bytes(Encoding.PEM)


def cometbft_problem() -> str | None:
    """Why the demo cannot run on CometBFT here (None: it can): the pinned binary and the
    generated ABCI protobuf modules are both needed."""
    from baychain.network import cometbft

    try:
        cometbft.check_binary()
        import baychain.abci.pb  # noqa: F401  (generates the modules if the proto sources are there)
    except (cometbft.CometbftNotFound, ImportError, OSError) as exc:
        return str(exc)
    return None


def clear(directory: Path) -> None:
    """Make room for a new demo in `directory`: stop and delete an earlier demo there;
    refuse to touch a directory the demo did not make."""
    directory = Path(directory)
    if not directory.exists():
        return
    if not (directory / MARKER).exists():
        if any(directory.iterdir()):
            raise BaychainError(Code.ALREADY_EXISTS, f"{directory} exists and was not made by `baychain demo`; "
                                                     "choose another --dir")
        return
    owner = _serving_pid(directory)
    if owner is not None:
        raise BaychainError(Code.ALREADY_EXISTS, f"the demo in {directory} is still running on the embedded engine "
                                                 f"(pid {owner}); stop it with Ctrl-C first")
    stop_nodes(directory)
    shutil.rmtree(directory)


def _serving_pid(directory: Path) -> int | None:
    """The pid of a live process serving a solo demo from `directory`, if any."""
    try:
        pid = int(json.loads((directory / MARKER).read_text()).get("pid", 0))
    except (OSError, ValueError, AttributeError):
        return None
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None  # gone (or no /proc: then the port clash tells)
    return pid if any(b"demo" in arg for arg in argv) else None


def stop_nodes(directory: Path) -> None:
    """Stop every node process of a CometBFT demo in `directory` (none: nothing to do)."""
    from baychain.network.home import NodeHome
    from baychain.network.manifest import MANIFEST_FILE, NetworkManifest
    from baychain.network.processes import stop_node

    if (directory / MANIFEST_FILE).exists():
        manifest = NetworkManifest.load(directory)
        for name in manifest.names:
            stop_node(NodeHome(manifest.home(name)))


def _members() -> list[Member]:
    return [Member(o.slug, o.name, o.jurisdiction, o.role) for o in FOUNDERS]


def _committee_keys(directory: Path) -> dict[str, Key]:
    return {o.slug: Key.load(directory / KEYS_DIR / f"{o.slug}.json", LOCAL_PASSPHRASE) for o in FOUNDERS}


def _mark(directory: Path, engine: str) -> None:
    doc = {"engine": engine, "chain_id": CHAIN_ID, "pid": os.getpid() if engine == SOLO else 0}
    (directory / MARKER).write_text(json.dumps(doc, indent=2) + "\n")


def start_cometbft(directory: Path, *, progress: Callable[[str], Any]) -> Network:
    """Four validator processes of the founders, started detached; returns once all commit blocks."""
    from baychain.network.create import init_network
    from baychain.network.home import NodeHome
    from baychain.network.processes import start_node, wait_healthy

    directory = Path(directory)
    try:
        manifest = init_network(directory, members=_members(), chain_id=CHAIN_ID, require_certificates=True,
                                log_level="consensus:info,state:info,p2p:error,*:error",
                                snapshot_interval=SNAPSHOT_INTERVAL)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # `clear` emptied it: all of it is ours
        raise
    _mark(directory, COMETBFT)
    try:
        for name in manifest.names:
            pid = start_node(NodeHome(manifest.home(name)))
            progress(f"   node {name:<12} started (pid {pid}), API {manifest.node(name).api_url}")
        wait_healthy(manifest, timeout=120)
    except BaseException:
        stop_nodes(directory)
        raise
    from baychain.network.light import ApiRelay, LightClient

    genesis = NodeHome(manifest.home(manifest.names[0])).cometbft / "config" / "genesis.json"
    # headers from any node that answers, each compared with every other node's (witnesses)
    light = LightClient([ApiRelay(n.api_url) for n in manifest.nodes], genesis,
                        witnesses=[ApiRelay(n.api_url) for n in manifest.nodes[1:]])
    return Network(directory, COMETBFT, {n.name: n.api_url for n in manifest.nodes}, _committee_keys(directory),
                   stop=lambda: stop_nodes(directory), wait=lambda: None, light=light)


def start_solo(directory: Path, *, host: str = "127.0.0.1", port: int = 0, block_interval: float = 0.2) -> Network:
    """One embedded node and its API in this process, with the same consortium genesis."""
    import uvicorn

    from baychain.api.server import create_api
    from baychain.chain.genesis import Genesis
    from baychain.node import NodeConfig, SoloNode

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _mark(directory, SOLO)
    members = _members()
    now = datetime.now(timezone.utc)
    committee = create_committee(directory, members)
    regulators = [c["account"] for c, m in zip(committee, members) if m.role == "regulator"]
    home = directory / "node"
    home.mkdir()
    Genesis(chain_id=CHAIN_ID, time_ns=time.time_ns(), app_state={
        "governance": {"members": committee},
        "identity": create_ca(directory, members, now=now, required=True),
        "policy": {"regulators": regulators},
    }).save(home / "genesis.json")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BaychainError(Code.BAD_REQUEST, f"cannot listen on {host}:{port}: {exc}; choose another --port") from None
    node = SoloNode(NodeConfig(home=home, chain_id=CHAIN_ID, block_interval=block_interval))
    server = uvicorn.Server(uvicorn.Config(create_api(node), log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="baychain-demo-api", daemon=True)
    node.start()
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            node.stop()
            raise BaychainError(Code.TIMEOUT, "the demo node's API did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        sock.close()
        node.stop()

    def wait() -> None:
        while thread.is_alive():
            thread.join(1)

    url = f"http://{host}:{sock.getsockname()[1]}"
    return Network(directory, SOLO, {"solo": url}, _committee_keys(directory), stop=stop, wait=wait)
