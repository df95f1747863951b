"""`baychain net init`: every node home of a local network, in one step.

What four organisations on four machines do by hand (docs/NETWORK.md), done at once
on one machine:

1. each node gets a CometBFT home with fresh keys (`cometbft init`): a node key whose
   hash is its node id, and a validator (consensus) key;
2. one genesis lists every validator key and, in `app_state.network`, who each member
   is (organisation, jurisdiction, role, node id, validator key and power), and in
   `app_state.governance` the founding committee: one account per organisation, whose
   keys the network directory holds, and in `app_state.identity` the consortium CA
   (`baychain.network.committee`); every node gets the same file;
3. each node gets its own loopback ports and lists every other node in
   `persistent_peers`, with the settings a one-host network needs
   (`allow_duplicate_ip`, `addr_book_strict = false`), consensus timeouts tuned
   for a few validators and, with `tx_gossip=RING`, its place in the transaction
   gossip ring (`cometbft.TxGossip`);
4. `network.json` (the manifest) records all of it for `net up`, `net status` and tests.

`join_network` adds one more organisation's node to a running local network (`baychain
net join`): the same steps for a single node, against the genesis the network already
has (`new_member_home`), then the committee's vote, state sync and its start.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from baychain.network import cometbft
from baychain.network.card import NodeCard, genesis_from_cards
from baychain.network.committee import CA_DIR, KEYS_DIR, create_ca, create_committee
from baychain.network.home import NodeHome, NodeSettings
from baychain.network.manifest import MANIFEST_FILE, PORT_NAMES, NetworkManifest, NodeEntry, Validator
from baychain.network.members import Member, default_members
from baychain.network.ports import free_ports

DEFAULT_CHAIN_ID = "baychain-gba"
DEFAULT_DIR = Path(".baychain/net")


def card(entry: NodeEntry) -> NodeCard:
    """The public identity card of a node of the manifest."""
    return NodeCard(entry.member, entry.node_id, f"{entry.host}:{entry.ports['p2p']}",
                    entry.validator.address, entry.validator.pub_key, entry.validator.power)


def init_network(
    directory: Path = DEFAULT_DIR,
    *,
    validators: int = 4,
    members: list[Member] | None = None,
    chain_id: str = DEFAULT_CHAIN_ID,
    host: str = "127.0.0.1",
    binary: str | None = None,
    force: bool = False,
    log_level: str = "info",
    filter_peers: bool = True,
    committee: list[dict] | None = None,
    require_certificates: bool = False,
    cometbft_metrics: bool = True,
    tx_gossip: cometbft.TxGossip = cometbft.TxGossip.FLOOD,
    snapshot_interval: int = NodeSettings.snapshot_interval,
    mempool: str | None = None,
) -> NetworkManifest:
    """Write a ready-to-run network into `directory` and return its manifest. Without an
    explicit `committee`, one committee key per member is made in `directory/keys`.
    `cometbft_metrics=False` leaves every CometBFT's Prometheus endpoint off (see
    `cometbft.node_settings`): on a small machine that no one scrapes, the four
    processes then commit ~14 % more transactions per second. `tx_gossip` is how nodes
    relay transactions (`cometbft.TxGossip`). Every node makes a state-sync snapshot
    each `snapshot_interval` blocks (0: none), for nodes that join later. `mempool`: who
    keeps waiting transactions (`NodeSettings.mempool`); by default the nodes themselves
    ("app", each relaying to all the others' APIs: on one machine CometBFT's socket
    CheckTx and gossip cost more than the whole relay), or CometBFT with the ring, which
    is an arrangement of CometBFT's gossip."""
    if mempool is None:
        mempool = "cometbft" if tx_gossip == cometbft.TxGossip.RING else "app"
    if mempool not in ("cometbft", "app"):
        raise ValueError(f'mempool must be "cometbft" or "app", not {mempool!r}')
    if mempool == "app" and tx_gossip == cometbft.TxGossip.RING:
        raise ValueError("the gossip ring arranges CometBFT's mempool gossip: it needs mempool \"cometbft\"")
    directory = Path(directory)
    members = members or default_members(validators)
    if len({m.name for m in members}) != len(members):
        raise ValueError("node names must be unique")
    if (directory / MANIFEST_FILE).exists():
        if not force:
            raise FileExistsError(f"a network already exists in {directory}; use --force to replace it")
        remove_network(directory)
    elif directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not empty")
    binary = cometbft.check_binary(binary)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    genesis_time = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ports = free_ports(len(PORT_NAMES) * len(members), host)

    entries: list[NodeEntry] = []
    for i, member in enumerate(members):
        home = NodeHome(directory / "nodes" / member.name)
        keys = cometbft.init_home(home.cometbft, binary)
        node_ports = dict(zip(PORT_NAMES, ports[i * len(PORT_NAMES) : (i + 1) * len(PORT_NAMES)]))
        entries.append(
            NodeEntry(
                member=member,
                node_id=keys.node_id,
                validator=Validator(keys.validator_address, keys.validator_pub_key, 10),
                home=str(home.path.relative_to(directory)),
                ports=node_ports,
                host=host,
            )
        )

    regulators: list[str] = []
    if committee is None:
        committee = create_committee(directory, members)
        regulators = [c["account"] for c, m in zip(committee, members) if m.role == "regulator"]
    genesis = genesis_from_cards([card(e) for e in entries], chain_id=chain_id, genesis_time=genesis_time, committee=committee)
    genesis["app_state"]["identity"] = create_ca(directory, members, now=now, required=require_certificates)
    genesis["app_state"]["policy"] = {"regulators": regulators}
    node_ids = [e.node_id for e in entries]
    for entry in entries:
        home = NodeHome(directory / entry.home)
        peers = [e.p2p_address for e in entries if e is not entry]
        cometbft.set_config(
            home.cometbft,
            cometbft.node_settings(
                moniker=entry.name, host=host, ports=entry.ports, persistent_peers=peers,
                filter_peers=filter_peers, log_level=log_level, cometbft_metrics=cometbft_metrics,
                gossip_to=cometbft.gossip_successor(node_ids, entry.node_id) if tx_gossip == cometbft.TxGossip.RING else None,
            ),
        )
        cometbft.write_genesis(home.cometbft, genesis)
        card(entry).save(home.path / "node-card.json")
        home.save(
            NodeSettings(
                name=entry.name, organisation=entry.member.organisation, jurisdiction=entry.member.jurisdiction,
                role=entry.member.role, api_host=host, api_port=entry.ports["api"],
                admission_workers=0,  # every node shares this machine: worker processes would only add hand-offs
                snapshot_interval=snapshot_interval, mempool=mempool,
                relay_peers=[f"http://{e.host}:{e.ports['api']}" for e in entries if e is not entry] if mempool == "app" else [],
            )
        )

    manifest = NetworkManifest(chain_id=chain_id, genesis_time=genesis_time, nodes=entries, directory=directory)
    manifest.save()
    return manifest


def remove_network(directory: Path) -> None:
    """Delete a network directory written by `init_network` (only one with a manifest)."""
    directory = Path(directory)
    if not (directory / MANIFEST_FILE).exists():
        raise FileNotFoundError(f"{directory} holds no network manifest; refusing to delete it")
    shutil.rmtree(directory / "nodes", ignore_errors=True)
    shutil.rmtree(directory / KEYS_DIR, ignore_errors=True)
    shutil.rmtree(directory / CA_DIR, ignore_errors=True)
    (directory / MANIFEST_FILE).unlink()


def new_member_home(directory: Path, member: Member, *, power: int = 0, binary: str | None = None) -> NodeEntry:
    """A home for one more node of the local network in `directory`: fresh keys, free
    ports, the network's genesis, its founders' settings, and every node of the manifest as
    a persistent peer. Neither registered on chain nor in the manifest: the caller does
    both once the committee has agreed (`baychain net join`)."""
    directory = Path(directory)
    manifest = NetworkManifest.load(directory)
    home = NodeHome(directory / "nodes" / member.name)
    if member.name in manifest.names or home.path.exists():
        raise FileExistsError(f"the network already has a node named {member.name!r}")
    binary = cometbft.check_binary(binary)
    founder = NodeHome(manifest.home(manifest.names[0]))
    host = manifest.nodes[0].host
    keys = cometbft.init_home(home.cometbft, binary)
    entry = NodeEntry(
        member=member,
        node_id=keys.node_id,
        validator=Validator(keys.validator_address, keys.validator_pub_key, power),
        home=str(home.path.relative_to(directory)),
        ports=dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES), host))),
        host=host,
    )
    config = cometbft.read_config(founder.cometbft)
    cometbft.set_config(
        home.cometbft,
        cometbft.node_settings(
            moniker=member.name, host=host, ports=entry.ports, persistent_peers=[e.p2p_address for e in manifest.nodes],
            filter_peers=bool(config.get("filter_peers")), log_level=config["log_level"],
            cometbft_metrics=bool(config["instrumentation"]["prometheus"]),
        ),
    )
    shutil.copyfile(founder.cometbft / "config" / "genesis.json", home.cometbft / "config" / "genesis.json")
    settings = founder.load()
    home.save(NodeSettings(
        name=member.name, organisation=member.organisation, jurisdiction=member.jurisdiction, role=member.role,
        api_host=host, api_port=entry.ports["api"], admission_workers=settings.admission_workers,
        snapshot_interval=settings.snapshot_interval, snapshot_keep=settings.snapshot_keep, mempool=settings.mempool,
        relay_peers=[e.api_url for e in manifest.nodes] if settings.mempool == "app" else [],
    ))
    card(entry).save(home.path / "node-card.json")
    return entry


@dataclass(frozen=True)
class Joined:
    entry: NodeEntry
    pid: int
    registered_height: int  # the block that added the node to the registry
    trust_height: int | None  # the state-sync anchor (None: the node replays from height 1)


def join_network(directory: Path, member: Member, *, power: int = 0, state_sync: bool = True) -> Joined:
    """Add a node for `member` to the running local network in `directory` and start it:
    its home (`new_member_home`), with `state_sync` the trust anchor from the running
    nodes' RPC (`statesync.enable`), the local committee's vote registering it on chain,
    its entry in the manifest. The anchor comes first, so a node that cannot sync is
    never registered; if the anchor or the vote fails, the new home is deleted. Raises
    ValueError when fewer than two nodes run or the directory holds no committee keys,
    FileExistsError for a name the network has."""
    from baychain.errors import BaychainError, Code
    from baychain.network import statesync
    from baychain.network.committee import local_committee
    from baychain.network.processes import running_pid, start_node
    from baychain.sdk import Client
    from baychain.sdk.governance import Governance, action

    directory = Path(directory)
    manifest = NetworkManifest.load(directory)
    running = [n for n in manifest.names if running_pid(NodeHome(manifest.home(n))) is not None]
    if len(running) < 2:
        raise ValueError("a node joins a running network: start at least two of its nodes (`baychain net up`) first")
    keys = local_committee(directory)
    if not keys:
        raise ValueError(f"{directory} holds no local committee keys: propose the node with `net add-node --key` "
                         "and let the members vote")
    entry = new_member_home(directory, member, power=power)
    home = NodeHome(directory / entry.home)
    try:  # the anchor first: nothing is decided on chain for a node that cannot sync
        anchor = statesync.enable(home, [manifest.node(n).rpc_url for n in running]) if state_sync else None
        args = {"node_id": entry.node_id, "name": member.name, "organisation": member.organisation,
                "jurisdiction": member.jurisdiction, "role": member.role,
                "validator_pub_key": base64.b64decode(entry.validator.pub_key), "power": power}
        with Client(manifest.node(running[0]).api_url, timeout=20) as client:
            summary = Governance(client).decide(keys, [action("network", "add_node", **args)])
        if summary["status"] != "executed":
            raise BaychainError(Code.PROPOSAL_CLOSED, f"the committee's proposal {summary['id']} {summary['status']}: "
                                                      f"{summary.get('error')}")
    except BaseException:
        shutil.rmtree(home.path, ignore_errors=True)
        raise
    manifest.nodes.append(entry)
    manifest.save()
    return Joined(entry, start_node(home), summary["decided_height"], anchor.height if anchor else None)
