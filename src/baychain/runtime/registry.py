"""The contract registry: a governed lifecycle for deployed contracts.

Nobody deploys alone. A contract reaches the chain in two steps:

1. the committee passes a proposal whose action is `contracts.approve(name, code_hash)`
   (a `@governed` method): the members vote on the SHA-256 of the exact source they
   reviewed;
2. anyone then sends `contracts.deploy(name, source)`; the source must hash to the
   approved hash, pass the language check and compile, or nothing happens. The
   approval is used up. Deploying a name that exists is an upgrade: a new version
   with the same storage.

`disable` and `enable` (governed) stop and restart every method of a contract. Every
version stays on record with its code, so anyone can read and re-hash what ran at
any height.

Storage (state keys `c/contracts/<key>`):

    approval/<name>        {"code_hash", "proposal", "height"}
    code/<hash hex>        {"size", "chunks"}; the source in chunks code/<hash hex>/<i>
    rec/<name>             {"name", "version", "code_hash", "status", "deployer", "height", "time_ns", "reason"}
    ver/<name>/<v:06d>     {"version", "code_hash", "deployer", "height", "time_ns"}
    names                  deployed names, sorted
"""

from __future__ import annotations

import re
from typing import Any, Callable

from baychain import encoding
from baychain.contracts.base import Contract, governed, view
from baychain.contracts.context import Context, contract_key
from baychain.errors import BaychainError, Code
from baychain.runtime.deployed import DeployedContract, Runtime, code_hash

NAME = "contracts"
ACTIVE, DISABLED = "active", "disabled"
CHUNK_CHARS = 4_000  # at most 16,000 bytes of UTF-8: inside the stored-value limit
MAX_CONTRACTS = 256
NAME_RULE = re.compile(r"[a-z][a-z0-9_]{1,31}\Z")

Reader = Callable[[bytes], "bytes | None"]


class Contracts(Contract):
    """Deployed contracts: committee-approved code hashes, deployment, versions, disabling."""

    name = NAME

    def __init__(self, runtime: Runtime, native: frozenset[str] = frozenset()) -> None:
        self.runtime = runtime
        self.native = native | {NAME}

    @governed
    def approve(self, ctx: Context, name: str, code_hash: bytes) -> None:
        """Approve deploying (or upgrading) `name` with the source whose SHA-256 is `code_hash`."""
        self._check_name(ctx, name)
        ctx.require(len(code_hash) == 32, Code.BAD_ARGUMENTS, "code_hash must be 32 bytes (SHA-256 of the source)")
        ctx.put(f"approval/{name}", {"code_hash": code_hash, "proposal": ctx.proposal, "height": ctx.height})
        ctx.emit("approved", name=name, code_hash=code_hash, proposal=ctx.proposal)

    def deploy(self, ctx: Context, name: str, source: str) -> Any:
        """Deploy or upgrade `name` with `source`; its hash must be the one the committee approved."""
        self._check_name(ctx, name)
        digest = code_hash(source)
        approval = ctx.get(f"approval/{name}")
        ctx.require(approval is not None, Code.CODE_NOT_APPROVED,
                    f"no passed proposal approved code for {name!r}: propose contracts.approve first")
        ctx.require(approval["code_hash"] == digest, Code.CODE_NOT_APPROVED,
                    f"the source hashes to {digest.hex()}, the committee approved {approval['code_hash'].hex()}")
        self.runtime.compile(source)  # CONTRACT_INVALID unless it is in the language
        record = ctx.get(f"rec/{name}")
        version = 1 if record is None else record["version"] + 1
        if record is None:
            names = ctx.get("names", [])
            ctx.require(len(names) < MAX_CONTRACTS, Code.LIMIT_EXCEEDED, f"at most {MAX_CONTRACTS} deployed contracts")
            ctx.put("names", sorted([*names, name]))
        if not ctx.has(f"code/{digest.hex()}"):
            chunks = [source[i:i + CHUNK_CHARS] for i in range(0, len(source), CHUNK_CHARS)] or [""]
            for i, chunk in enumerate(chunks):
                ctx.put(f"code/{digest.hex()}/{i}", chunk)
            ctx.put(f"code/{digest.hex()}", {"size": len(source.encode()), "chunks": len(chunks)})
        entry = {"version": version, "code_hash": digest, "deployer": ctx.sender, "height": ctx.height,
                 "time_ns": ctx.time_ns}
        ctx.put(f"ver/{name}/{version:06d}", entry)
        ctx.put(f"rec/{name}", {"name": name, **entry, "status": record["status"] if record else ACTIVE,
                                "reason": record["reason"] if record else ""})
        ctx.delete(f"approval/{name}")
        ctx.emit("deployed", name=name, version=version, code_hash=digest)
        return {"name": name, "version": version, "code_hash": digest}

    @governed
    def disable(self, ctx: Context, name: str, reason: str = "") -> None:
        """Stop every method and view of a deployed contract (its storage stays)."""
        self._set_status(ctx, name, DISABLED, reason)

    @governed
    def enable(self, ctx: Context, name: str) -> None:
        """Let a disabled contract run again."""
        self._set_status(ctx, name, ACTIVE, "")

    @view
    def info(self, ctx: Context, name: str) -> Any:
        """A deployed contract's record: version, code hash, status, deployer."""
        record = ctx.get(f"rec/{name}")
        ctx.require(record is not None, Code.NOT_FOUND, f"no deployed contract named {name!r}")
        return record

    @view
    def versions(self, ctx: Context, name: str) -> Any:
        """Every version of a deployed contract, oldest first."""
        record = ctx.get(f"rec/{name}")
        ctx.require(record is not None, Code.NOT_FOUND, f"no deployed contract named {name!r}")
        return [ctx.get(f"ver/{name}/{v:06d}") for v in range(1, record["version"] + 1)]

    @view
    def source(self, ctx: Context, name: str, version: int = 0) -> Any:
        """The source of a version (0: the current one)."""
        record = ctx.get(f"rec/{name}")
        ctx.require(record is not None, Code.NOT_FOUND, f"no deployed contract named {name!r}")
        entry = record if version == 0 else ctx.get(f"ver/{name}/{version:06d}")
        ctx.require(entry is not None, Code.NOT_FOUND, f"{name!r} has no version {version}")
        return read_source(ctx.get, entry["code_hash"])

    @view
    def approval(self, ctx: Context, name: str) -> Any:
        """The pending approval for `name` (None if there is none)."""
        return ctx.get(f"approval/{name}")

    @view
    def names(self, ctx: Context) -> Any:
        """The names of every deployed contract."""
        return ctx.get("names", [])

    def _check_name(self, ctx: Context, name: str) -> None:
        ctx.require(bool(NAME_RULE.match(name)), Code.BAD_ARGUMENTS,
                    "contract names are 2-32 characters a-z 0-9 _, starting with a letter")
        ctx.require(name not in self.native, Code.ALREADY_EXISTS, f"{name!r} is a built-in contract")

    def _set_status(self, ctx: Context, name: str, status: str, reason: str) -> None:
        record = ctx.get(f"rec/{name}")
        ctx.require(record is not None, Code.NOT_FOUND, f"no deployed contract named {name!r}")
        record["status"], record["reason"] = status, reason
        ctx.put(f"rec/{name}", record)
        ctx.emit(status, name=name, reason=reason)


def read_source(get: Callable[..., Any], digest: bytes) -> str:
    """A stored source by its hash, from a contract-storage getter (`ctx.get`)."""
    meta = get(f"code/{digest.hex()}")
    if meta is None:
        raise BaychainError(Code.NOT_FOUND, f"no stored code with hash {digest.hex()}")
    return "".join(get(f"code/{digest.hex()}/{i}") for i in range(meta["chunks"]))


def find(runtime: Runtime, name: str, read: Reader) -> DeployedContract | None:
    """The deployed contract `name` as of `read`'s state, or None; CONTRACT_DISABLED if disabled."""
    raw = read(contract_key(NAME, f"rec/{name}"))
    if raw is None:
        return None
    record = encoding.decode(raw, Code.INTERNAL)
    if record["status"] != ACTIVE:
        raise BaychainError(Code.CONTRACT_DISABLED, f"contract {name!r} is disabled by the committee"
                                                    + (f": {record['reason']}" if record["reason"] else ""))
    return _loaded(runtime, name, record, read)


def _loaded(runtime: Runtime, name: str, record: dict[str, Any], read: Reader) -> DeployedContract:
    """The contract a registry record names, from the runtime's cache or loaded from state."""
    found = runtime.find_loaded(name, record["code_hash"], record["version"], record["status"])
    return found or runtime.load(name, read_source(_getter(read), record["code_hash"]), version=record["version"],
                                 status=record["status"])


def describe_all(runtime: Runtime, read: Reader) -> list[dict[str, Any]]:
    """The interface of every deployed contract (disabled ones too, marked so)."""
    raw = read(contract_key(NAME, "names"))
    out = []
    for name in encoding.decode(raw, Code.INTERNAL) if raw else []:
        record = encoding.decode(read(contract_key(NAME, f"rec/{name}")) or b"", Code.INTERNAL)
        try:
            contract = _loaded(runtime, name, record, read)
        except BaychainError as exc:  # listed all the same: one bad entry must not hide the others
            out.append({"name": name, "doc": "", "methods": [], "runtime": {
                "version": record["version"], "code_hash": record["code_hash"].hex(), "status": record["status"],
                "error": exc.message}})
            continue
        out.append(contract.describe())
    return out


def _getter(read: Reader) -> Callable[..., Any]:
    def get(key: str) -> Any:
        raw = read(contract_key(NAME, key))
        return None if raw is None else encoding.decode(raw, Code.INTERNAL)

    return get
