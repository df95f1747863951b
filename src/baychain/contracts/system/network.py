"""Network membership on chain: the node registry and the validator set.

A consortium decides who may run a node and who votes on blocks. That decision lives
in state, not in configuration files, so every node applies the same one at the same
height and anyone can prove it:

- the **node registry**: every member node by its CometBFT node id (the hash of its
  authenticated p2p key), with the organisation running it, its jurisdiction (GD, HK,
  MO), its role, its consensus (validator) public key and its voting power. CometBFT
  asks the application about every peer (`filter_peers = true`); the application
  answers `/p2p/filter/id/<id>` from this registry (`filter_query`), so a node that is
  not registered never gets a connection;
- the **validator set**: a registered node with a validator key and power > 0 votes.
  Changes are returned to CometBFT from finalize_block (`validator_updates`) and take
  effect two heights later; power 0 removes a validator.

The registry starts from the genesis (`app_state.network.members`, loaded by
`genesis_state` at InitChain). After that it changes only by committee decision:
`add_node`, `remove_node` and `set_power` are `@governed`, so they run only as actions
of a passed proposal (`baychain.contracts.system.governance`).

Storage of the contract (state keys `c/network/<key>`):

    node/<node id>        {"node_id", "name", "organisation", "jurisdiction", "role",
                           "validator_pub_key" (32 bytes, or b"" for a non-voting node),
                           "power", "added_height"}
    nodes                 the registry's node ids, sorted
    valkey/<pub key hex>  the node id holding a validator key (keys are unique)
    power/<pub key hex>   the voting power of a validator key; absent = not a validator
    total_power           the sum of all powers (never 0: a chain needs a validator)

**Misbehaviour.** When a block commits evidence of a validator's fault (CometBFT
detects a validator voting twice, or a light client submits a conflicting header the
validators signed, and verifies either before a proposer may include it), the
application turns each piece into a regulator alert (`misbehavior_alerts`, kind
`validator_misbehavior`, raised by `network`) recorded in the audit log. The fault is
proved; what follows is the committee's decision (`set_power` to 0 removes the
validator), not an automatic penalty: in a consortium the operator is a known member
under contract, and removing a validator by itself could halt a small network.

The `power/` entries are the validator set. finalize_block compares them at the end
of the block with their values at its start: one update per key whose power changed,
whatever happened in between, so an update list never holds a key twice (CometBFT
halts on that) and the last change in the block wins.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from typing import Any, Callable, Mapping

from baychain import encoding
from baychain.app.types import Event, Misbehavior, QueryResult, ValidatorUpdate
from baychain.contracts.base import Contract, governed, view
from baychain.contracts.context import Context, contract_key
from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code

log = logging.getLogger("baychain.network")

NAME = "network"
JURISDICTIONS = ("GD", "HK", "MO")
ROLES = ("member", "regulator", "auditor")
NODE_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}\Z")
NODE_ID = re.compile(r"[0-9a-f]{40}\Z")
MAX_ORGANISATION = 200
MAX_POWER = 10**12  # per validator
MAX_TOTAL_POWER = 10**15  # far inside CometBFT's limit (2^63 / 8)
KEY_TYPE = "ed25519"  # the only consensus key type the genesis allows
FILTER_PREFIX = "/p2p/filter/"

_POWER_PREFIX = contract_key(NAME, "power/")
Reader = Callable[[bytes], "bytes | None"]


def _node_key(node_id: str) -> str:
    return f"node/{node_id}"


def _power_key(pub_key: bytes) -> str:
    return f"power/{pub_key.hex()}"


def _valkey_key(pub_key: bytes) -> str:
    return f"valkey/{pub_key.hex()}"


class Network(Contract):
    """The consortium's node registry and validator set; changed only by passed proposals."""

    name = NAME

    @governed
    def add_node(
        self,
        ctx: Context,
        node_id: str,
        name: str,
        organisation: str,
        jurisdiction: str,
        role: str = "member",
        validator_pub_key: bytes = b"",
        power: int = 0,
    ) -> None:
        """Register a node. With a 32-byte Ed25519 validator key and power > 0 it also votes."""
        node = _check_node(node_id, name, organisation, jurisdiction, role, validator_pub_key, power)
        ctx.require(not ctx.has(_node_key(node_id)), Code.ALREADY_EXISTS, f"node {node_id} is already registered")
        if validator_pub_key:
            holder = ctx.get(_valkey_key(validator_pub_key))
            ctx.require(holder is None, Code.ALREADY_EXISTS, f"validator key {validator_pub_key.hex()} belongs to node {holder}")
            ctx.put(_valkey_key(validator_pub_key), node_id)
        node["added_height"] = ctx.height
        ctx.put(_node_key(node_id), node)
        nodes = ctx.get("nodes", [])
        ctx.put("nodes", sorted([*nodes, node_id]))
        ctx.emit("node_added", node_id=node_id, name=name, organisation=organisation, jurisdiction=jurisdiction, role=role,
                 proposal=ctx.proposal)
        if power:
            _set_power(ctx, node, power)

    @governed
    def remove_node(self, ctx: Context, node_id: str) -> None:
        """Remove a node from the registry; a validator stops voting two blocks later."""
        node = _node(ctx, node_id)
        nodes = ctx.get("nodes", [])
        ctx.require(len(nodes) > 1, Code.NOT_AUTHORIZED, "the last node of the network cannot be removed")
        if node["power"]:
            _set_power(ctx, node, 0)
        if node["validator_pub_key"]:
            ctx.delete(_valkey_key(node["validator_pub_key"]))
        ctx.delete(_node_key(node_id))
        ctx.put("nodes", [n for n in nodes if n != node_id])
        ctx.emit("node_removed", node_id=node_id, name=node["name"], proposal=ctx.proposal)

    @governed
    def set_power(self, ctx: Context, node_id: str, power: int) -> None:
        """Set a registered node's voting power; 0 makes it a non-voting member."""
        node = _node(ctx, node_id)
        ctx.require(0 <= power <= MAX_POWER, Code.BAD_ARGUMENTS, f"power must be 0 to {MAX_POWER}")
        ctx.require(bool(node["validator_pub_key"]) or power == 0, Code.BAD_ARGUMENTS,
                    f"node {node_id} has no validator key, so it cannot vote")
        ctx.require(power != node["power"], Code.ALREADY_EXISTS, f"node {node_id} already has power {power}")
        _set_power(ctx, node, power)

    @view
    def node(self, ctx: Context, node_id: str) -> Any:
        """One registered node."""
        return _node(ctx, node_id.lower())

    @view
    def nodes(self, ctx: Context) -> Any:
        """Every registered node, by node id."""
        return [ctx.get(_node_key(n)) for n in ctx.get("nodes", [])]

    @view
    def validators(self, ctx: Context) -> Any:
        """The nodes that vote (power > 0), with the total power."""
        voting = [n for n in (ctx.get(_node_key(i)) for i in ctx.get("nodes", [])) if n["power"]]
        return {"validators": voting, "total_power": ctx.get("total_power", 0)}


# -- rules ---------------------------------------------------------------------------------------


def _node(ctx: Context, node_id: str) -> dict[str, Any]:
    node = ctx.get(_node_key(node_id))
    ctx.require(node is not None, Code.NOT_FOUND, f"node {node_id} is not registered")
    return node


def _check_node(node_id: str, name: str, organisation: str, jurisdiction: str, role: str,
                validator_pub_key: bytes, power: int) -> dict[str, Any]:
    """A registry entry, or BAD_ARGUMENTS saying which field is wrong."""
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise BaychainError(Code.BAD_ARGUMENTS, message)

    need(bool(NODE_ID.match(node_id)), f"node id {node_id!r} must be 40 lowercase hex digits (as `cometbft show-node-id` prints it)")
    need(bool(NODE_NAME.match(name)), f"node name {name!r}: 1-32 lowercase letters, digits and '-', starting with a letter")
    need(0 < len(organisation) <= MAX_ORGANISATION, f"organisation must be 1-{MAX_ORGANISATION} characters")
    need(jurisdiction in JURISDICTIONS, f"jurisdiction {jurisdiction!r}: one of {', '.join(JURISDICTIONS)}")
    need(role in ROLES, f"role {role!r}: one of {', '.join(ROLES)}")
    need(len(validator_pub_key) in (0, 32), "validator_pub_key must be a 32-byte Ed25519 public key (or empty)")
    need(0 <= power <= MAX_POWER, f"power must be 0 to {MAX_POWER}")
    need(power == 0 or bool(validator_pub_key), "a node without a validator key cannot have power")
    return {"node_id": node_id, "name": name, "organisation": organisation, "jurisdiction": jurisdiction,
            "role": role, "validator_pub_key": validator_pub_key, "power": 0, "added_height": 0}


def _set_power(ctx: Context, node: dict[str, Any], power: int) -> None:
    total = ctx.get("total_power", 0) - node["power"] + power
    ctx.require(total > 0, Code.NOT_AUTHORIZED, "the network must keep at least one validator")
    ctx.require(total <= MAX_TOTAL_POWER, Code.LIMIT_EXCEEDED, f"total power would exceed {MAX_TOTAL_POWER}")
    pub = node["validator_pub_key"]
    if power:
        ctx.put(_power_key(pub), power)
    else:
        ctx.delete(_power_key(pub))
    ctx.put("total_power", total)
    node["power"] = power
    if ctx.has(_node_key(node["node_id"])):
        ctx.put(_node_key(node["node_id"]), node)
    ctx.emit("power_set", node_id=node["node_id"], pub_key=pub, power=power)


# -- hooks the application calls ----------------------------------------------------------------


def genesis_state(app_state: Mapping[str, Any], validators: list[ValidatorUpdate]) -> dict[bytes, bytes]:
    """The registry's state entries from the genesis `app_state.network` (empty if absent).

    `app_state.network.members[]`: name, organisation, jurisdiction, role, node_id, and
    for a validator `validator_pub_key` (base64, as CometBFT's genesis writes keys) and
    `power` (or just `validator_address`, matched against the genesis validators).
    When CometBFT supplies genesis validators, the registry's validators must be
    exactly them, with the same powers: the two views of the set must never differ.
    """
    section = app_state.get("network")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise _genesis_error("app_state.network must be an object")
    by_address = {_address(v.pub_key): v for v in validators if v.pub_key_type == KEY_TYPE}
    storage: dict[str, Any] = {}
    node_ids: list[str] = []
    total = 0
    for i, member in enumerate(section.get("members") or []):
        if not isinstance(member, dict):
            raise _genesis_error(f"member {i} must be an object")
        pub_key = _genesis_pub_key(member, by_address, i)
        power = member.get("power")
        if power is None:
            matched = by_address.get(_address(pub_key)) if pub_key else None
            power = matched.power if matched else 0
        try:
            node = _check_node(str(member.get("node_id", "")).lower(), str(member.get("name", "")),
                               str(member.get("organisation", "")), str(member.get("jurisdiction", "")),
                               str(member.get("role", "member")), pub_key, int(power))
        except (BaychainError, ValueError, TypeError) as exc:
            raise _genesis_error(f"member {i}: {getattr(exc, 'message', exc)}") from None
        node_id = node["node_id"]
        if _node_key(node_id) in storage:
            raise _genesis_error(f"node {node_id} is listed twice")
        if pub_key:
            if _valkey_key(pub_key) in storage:
                raise _genesis_error(f"validator key {pub_key.hex()} is listed twice")
            storage[_valkey_key(pub_key)] = node_id
        node["power"] = int(power)
        if node["power"]:
            storage[_power_key(pub_key)] = node["power"]
            total += node["power"]
        storage[_node_key(node_id)] = node
        node_ids.append(node_id)
    if validators:
        mine = {bytes.fromhex(k[len("power/"):]): v for k, v in storage.items() if k.startswith("power/")}
        theirs = {v.pub_key: v.power for v in validators}
        if mine != theirs:
            raise _genesis_error("the members' validator keys and powers differ from the genesis validators")
    if "admins" in section:
        raise _genesis_error("admins are gone: the committee in app_state.governance changes the registry by proposals")
    storage["nodes"] = sorted(node_ids)
    storage["total_power"] = total
    return {contract_key(NAME, k): encoding.encode(v) for k, v in storage.items()}


def validator_updates(overlay: Mapping[bytes, bytes | None], genesis: Mapping[bytes, bytes | None],
                      read_committed: Reader) -> list[ValidatorUpdate]:
    """The validator changes a block made: one per key whose power differs from the
    block's start (committed state, or the genesis for block 1); power 0 removes.
    Sorted by key, so every node returns the same list."""
    updates = []
    for skey in sorted(k for k in overlay if k.startswith(_POWER_PREFIX)):
        before = genesis[skey] if skey in genesis else read_committed(skey)
        after = overlay[skey]
        if after == before:
            continue
        power = encoding.decode(after, Code.INTERNAL) if after is not None else 0
        updates.append(ValidatorUpdate(KEY_TYPE, bytes.fromhex(skey[len(_POWER_PREFIX):].decode()), power))
    return updates


MISBEHAVIOR_ALERT = "validator_misbehavior"


def misbehavior_alerts(misbehavior: list[Misbehavior], read: Reader) -> list[Event]:
    """One `network.alert` of kind `validator_misbehavior` per piece of evidence a block
    commits, naming the registered node whose validator key it is (if it is still in
    the registry). Evidence is rare and the registry small: the key's node is found by
    walking the sorted registry, the same on every node."""
    if not misbehavior:
        return []
    raw = read(contract_key(NAME, "nodes"))
    by_address: dict[bytes, dict[str, Any]] = {}
    for node_id in encoding.decode(raw, Code.INTERNAL) if raw is not None else []:
        node = encoding.decode(read(contract_key(NAME, _node_key(node_id))), Code.INTERNAL)
        if node["validator_pub_key"]:
            by_address[_address(node["validator_pub_key"])] = node
    alerts = []
    for m in misbehavior:
        node = by_address.get(m.validator, {})
        alerts.append(Event(f"{NAME}.alert", [
            ("kind", MISBEHAVIOR_ALERT), ("misbehavior", m.kind), ("validator", m.validator.hex()),
            ("node_id", node.get("node_id", "")), ("name", node.get("name", "")),
            ("organisation", node.get("organisation", "")), ("jurisdiction", node.get("jurisdiction", "")),
            ("evidence_height", str(m.height)), ("evidence_time_ns", str(m.time_ns)),
            ("power", str(m.power)), ("total_power", str(m.total_power)),
        ]))
    return alerts


def filter_query(path: str, read: Reader) -> QueryResult:
    """Answer CometBFT's `/p2p/filter/id/<node id>` and `/p2p/filter/addr/<ip:port>`:
    code 0 keeps the peer, NOT_AUTHORIZED refuses it.

    Node ids are what identify a member (the hash of the peer's authenticated p2p
    key); addresses are not restricted (an inbound peer's address carries an
    ephemeral port, and members may move). A chain whose genesis has no
    `app_state.network` has no registry and accepts every peer.
    """
    kind, _, value = path[len(FILTER_PREFIX):].partition("/")
    if kind == "addr":
        return QueryResult(log="addresses are not restricted; node ids are")
    if kind != "id":
        return QueryResult(code=int(Code.UNKNOWN_QUERY), log=f"unknown peer filter query {path!r}")
    if read(contract_key(NAME, "nodes")) is None:
        return QueryResult(log="this chain has no member registry; every peer is accepted")
    node_id = value.lower()
    raw = read(contract_key(NAME, _node_key(node_id))) if NODE_ID.match(node_id) else None
    if raw is not None:
        node = encoding.decode(raw, Code.INTERNAL)
        return QueryResult(log=f"member node {node['name']} ({node['organisation']})")
    message = f"node {value} is not a member of this network"
    log.warning("refused peer: %s", message)
    return QueryResult(code=int(Code.NOT_AUTHORIZED), log=message)


def _address(pub_key: bytes) -> bytes:
    """A validator's address, as CometBFT derives it: SHA-256 of the Ed25519 key, first 20 bytes."""
    return sha256(pub_key)[:20]


def _genesis_pub_key(member: dict[str, Any], by_address: dict[bytes, ValidatorUpdate], i: int) -> bytes:
    text = member.get("validator_pub_key")
    if text:
        try:
            pub_key = base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError):
            raise _genesis_error(f"member {i}: validator_pub_key must be base64") from None
        address = member.get("validator_address")
        if address and bytes.fromhex(str(address)) != _address(pub_key):
            raise _genesis_error(f"member {i}: validator_address does not match validator_pub_key")
        return pub_key
    address = member.get("validator_address")
    if address:
        try:
            matched = by_address.get(bytes.fromhex(str(address)))
        except ValueError:
            raise _genesis_error(f"member {i}: validator_address must be hex") from None
        if matched is None:
            raise _genesis_error(f"member {i}: validator {address} is not a genesis validator")
        return matched.pub_key
    return b""


def _genesis_error(message: str) -> BaychainError:
    return BaychainError(Code.BAD_REQUEST, f"genesis app_state.network: {message}")
