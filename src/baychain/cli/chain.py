"""Chain commands: status, blocks, transactions, views, state (with proofs), contracts, events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from baychain.cli.keys import KeysDir, Passphrase, load_key
from baychain.cli.output import dumps, emit_json, kv, settings, table, timestamp
from baychain.contracts.context import contract_key
from baychain.errors import BaychainError, Code
from baychain.sdk.args import parse_json_object, parse_pairs, typed_args
from baychain.sdk.client import Client, Receipt

tx_app = typer.Typer(help="Send and look up transactions.", no_args_is_help=True)
state_app = typer.Typer(help="Read state entries, with Merkle proofs.", no_args_is_help=True)
events_app = typer.Typer(help="Search and follow contract events.", no_args_is_help=True)

ArgOpt = typer.Option(None, "--arg", "-a", help="Argument name=value (repeatable); typed by the contract's interface")
ArgsJsonOpt = typer.Option(None, "--args-json", help="Arguments as a JSON object (bytes as hex)")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("block")(block)
    app.command("query")(query)
    app.command("contracts")(contracts)
    app.add_typer(tx_app, name="tx")
    app.add_typer(state_app, name="state")
    app.add_typer(events_app, name="events")


def status(ctx: typer.Context) -> None:
    """Chain id, height, app hash and the node's health."""
    s = settings(ctx)
    with s.client() as client:
        st = client.status()
    if s.json:
        emit_json({"node": s.node, **st})
        return
    kv([("node", s.node), ("chain id", st.get("chain_id")), ("height", st.get("height")),
        ("app hash", st.get("app_hash") or "-"), ("block time", timestamp(st.get("block_time_ns"))),
        ("mempool", f"{st.get('mempool_txs', 0)} txs"), ("engine", st.get("engine")), ("version", st.get("version"))])


def block(ctx: typer.Context, height: Optional[str] = typer.Argument(None, help="Block height (default: latest)")) -> None:
    """Show a committed block."""
    s = settings(ctx)
    ref: int | str = "latest"
    if height is not None and height != "latest":
        try:
            ref = int(height)
        except ValueError:
            raise BaychainError(Code.BAD_REQUEST, f"block height must be an integer, not {height!r}") from None
    with s.client() as client:
        b = client.block(ref)
    if s.json:
        emit_json(b)
        return
    kv([("height", b.get("height")), ("hash", b.get("hash")), ("time", timestamp(b.get("time_ns"))),
        ("chain id", b.get("chain_id")), ("proposer", b.get("proposer")), ("app hash", b.get("app_hash")),
        ("last app hash", b.get("last_app_hash") or "-"), ("txs", b.get("num_txs", len(b.get("txs", []))))])
    for h in b.get("txs", []):
        typer.echo(f"  {h}")


# -- transactions -----------------------------------------------------------------------


@tx_app.command("get")
def tx_get(ctx: typer.Context, tx_hash: str = typer.Argument(..., metavar="HASH", help="Transaction hash (hex)")) -> None:
    """Show a committed transaction and its receipt."""
    s = settings(ctx)
    with s.client() as client:
        tx = client.tx(tx_hash)
    if s.json:
        emit_json(tx)
        return
    d = tx.get("decoded") or {}
    rows: list[tuple[str, Any]] = [("hash", tx["hash"]), ("height", tx["height"]), ("index", tx["index"])]
    if d:
        rows += [("call", f"{d['contract']}.{d['method']}"), ("sender", d["sender"]), ("nonce", d["nonce"]),
                 ("expiry height", d["expiry_height"]), ("args", d["args"])]
    kv(rows)
    _print_receipt(Receipt.from_json(tx["receipt"]), header=False)


@tx_app.command("receipt")
def tx_receipt(ctx: typer.Context, tx_hash: str = typer.Argument(..., metavar="HASH", help="Transaction hash (hex)")) -> None:
    """Show the receipt of a committed transaction."""
    s = settings(ctx)
    with s.client() as client:
        receipt = client.receipt(tx_hash)
    if s.json:
        emit_json(receipt.to_json())
    else:
        _print_receipt(receipt)


@tx_app.command("send")
def tx_send(
    ctx: typer.Context,
    contract: str = typer.Argument(..., help="Contract name"),
    method: str = typer.Argument(..., help="Method name"),
    key: str = typer.Option(..., "--key", "-k", help="Signing key: a name in the key directory or a key file path"),
    arg: Optional[list[str]] = ArgOpt,
    args_json: Optional[str] = ArgsJsonOpt,
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once admitted, without waiting for the commit"),
    nonce: Optional[int] = typer.Option(None, help="Nonce to use (default: the account's next)"),
    expiry_blocks: int = typer.Option(100, help="Blocks from now after which the transaction is void"),
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Sign and send a contract call; waits for the commit and shows the receipt."""
    s = settings(ctx)
    signer = load_key(key, keys_dir, passphrase)
    with s.client() as client:
        args = _typed(client, contract, method, arg, args_json)
        receipt = client.call(signer, contract, method, args, wait=not no_wait, nonce=nonce,
                              expiry_blocks=expiry_blocks, timeout=min(s.timeout, 120.0))
    if s.json:
        emit_json(receipt.to_json())
    else:
        _print_receipt(receipt)


@tx_app.command("list")
def tx_list(
    ctx: typer.Context,
    address: str = typer.Argument(..., help="Signer's account address or key name"),
    from_height: int = typer.Option(0, help="Start at this height"),
    limit: int = typer.Option(100, help="At most this many"),
    keys_dir: Path = KeysDir,
) -> None:
    """List committed transactions signed by an account."""
    from baychain.cli.keys import resolve_address

    s = settings(ctx)
    with s.client() as client:
        found = client.txs_by_signer(resolve_address(address, keys_dir), from_height=from_height, limit=limit)
    if s.json:
        emit_json({"txs": found})
        return
    rows = []
    for t in found:
        d, r = t.get("decoded") or {}, t["receipt"]
        rows.append([t["height"], t["hash"], f"{d.get('contract')}.{d.get('method')}", d.get("nonce"), r.get("error") or "OK"])
    table(["height", "hash", "call", "nonce", "result"], rows)


# -- views and contracts ------------------------------------------------------------------


def query(
    ctx: typer.Context,
    contract: str = typer.Argument(..., help="Contract name"),
    method: str = typer.Argument(..., help="View name"),
    arg: Optional[list[str]] = ArgOpt,
    args_json: Optional[str] = ArgsJsonOpt,
    height: int = typer.Option(0, help="Read at this height (0 = latest)"),
) -> None:
    """Call a read-only contract view."""
    s = settings(ctx)
    with s.client() as client:
        args = _typed(client, contract, method, arg, args_json)
        value = client.view(contract, method, args, height=height)
    if s.json:
        emit_json({"value": value, "height": height})
    else:
        typer.echo(dumps(value))


def contracts(ctx: typer.Context) -> None:
    """List every contract's methods and views with their parameters."""
    s = settings(ctx)
    with s.client() as client:
        found = client.contracts()
    if s.json:
        emit_json({"contracts": found})
        return
    rows = []
    for c in found:
        for m in c["methods"]:
            params = ", ".join(f"{p['name']}: {p['type']}{'' if p['required'] else '?'}" for p in m["params"])
            kind = "view" if m["view"] else "governed" if m.get("governed") else "tx"
            rows.append([c["name"], m["name"], kind, params, (m.get("doc") or "").split("\n")[0]])
    table(["contract", "method", "kind", "params (? = optional)", "description"], rows)


def _typed(client: Client, contract: str, method: str, pairs: list[str] | None, args_json: str | None) -> dict[str, Any]:
    interface = client.method_interface(contract, method)
    json_args = parse_json_object(args_json) if args_json else None
    return typed_args(interface, parse_pairs(pairs or []), json_args)


# -- state ----------------------------------------------------------------------------------


@state_app.command("get")
def state_get(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="State key as hex (or, with --contract, the contract's storage key)"),
    contract: Optional[str] = typer.Option(None, "--contract", "-c", help="Read this contract's storage key KEY"),
    height: int = typer.Option(0, help="Read at this height (0 = latest)"),
    prove: bool = typer.Option(False, "--prove", help="Fetch the Merkle proof and verify it against the block's app hash"),
    light: bool = typer.Option(False, "--light", help="With --prove: take the app hash from the next header, verified by validator signatures (needs --genesis)"),
    genesis: Optional[Path] = typer.Option(None, "--genesis", envvar="BAYCHAIN_GENESIS", dir_okay=False, help="The network's genesis.json: the light client's trust anchor"),
    rpc: Optional[list[str]] = typer.Option(None, "--rpc", help="CometBFT RPC URL for headers (repeatable; default: relayed by --node)"),
    witness: Optional[list[str]] = typer.Option(None, "--witness", help="With --light: another node's API URL whose header is "
                                                "compared with the verified one (repeatable; a fork fails with FORK_DETECTED)"),
    trust_period: Optional[str] = typer.Option(None, "--trust-period", help="With --light: trust the genesis validators and "
                                               "each later set only this long (e.g. 168h0m0s) after the header their trust "
                                               "rests on (TRUST_EXPIRED after; default: no trusting period)"),
) -> None:
    """Read one state entry; with --prove, check it without trusting the node (--light: nor its app hash)."""
    s = settings(ctx)
    if contract is not None:
        raw_key = contract_key(contract, key)
    else:
        try:
            raw_key = bytes.fromhex(key.removeprefix("0x"))
        except ValueError:
            raise BaychainError(Code.BAD_REQUEST, f"state key must be hex (or use --contract NAME KEY), not {key!r}") from None
    if witness and not light:
        raise BaychainError(Code.BAD_REQUEST, "--witness checks headers: use it with --light")
    if trust_period is not None and not light:
        raise BaychainError(Code.BAD_REQUEST, "--trust-period bounds the light client's trust: use it with --light")
    light_client = _light_client(s, genesis, rpc, witness or [], trust_period) if light else None
    if light and not prove:
        raise BaychainError(Code.BAD_REQUEST, "--light checks a proof: use it with --prove")
    with s.client() as client:
        if prove:
            try:
                proven = client.prove_state(raw_key, height=height, light=light_client)
            finally:
                if light_client is not None:
                    light_client.close()
            value = proven.value
            out = {
                "key": raw_key.hex(), "height": proven.height, "exists": proven.exists,
                "value": value.hex() if value is not None else None, "decoded": proven.decoded(),
                "verified": True, "app_hash": proven.app_hash.hex(), "proof": proven.proof.to_bytes().hex(),
            }
        else:
            resp = client.get_state_unverified(raw_key, height=height)
            out = {"key": resp["key"], "height": resp["height"], "exists": resp["exists"], "value": resp["value"],
                   "decoded": resp.get("decoded"), "verified": False}
    if s.json:
        emit_json(out)
        return
    rows: list[tuple[str, Any]] = [("key", out["key"]), ("height", out["height"])]
    if out["exists"]:
        rows += [("value", out["value"]), ("decoded", dumps(out["decoded"]))]
    else:
        rows.append(("value", "absent (no entry at this key)"))
    if prove:
        what = "value" if out["exists"] else "absence"
        rows.append(("proof", f"VERIFIED: {what} proven against app hash {out['app_hash']} of block {out['height']}"))
        if light:
            rows.append(("app hash", f"VERIFIED: in header {out['height'] + 1}, signed by more than 2/3 of the validators' power"))
    else:
        rows.append(("proof", "not checked (as reported by the node; use --prove to verify)"))
    kv(rows)


def _light_client(s: Any, genesis: Optional[Path], rpc: Optional[list[str]], witnesses: list[str],
                  trust_period: Optional[str]) -> Any:
    """A light client anchored on the genesis file; headers from --rpc or relayed by the node's API,
    compared with those the --witness nodes' APIs relay; trust bounded by --trust-period if given."""
    from baychain.network.light import ApiRelay, LightClient, parse_period

    if genesis is None:
        raise BaychainError(Code.BAD_REQUEST, "--light needs --genesis FILE (the network's genesis.json, checked out of band)")
    period = parse_period(trust_period) if trust_period is not None else None
    try:
        doc = json.loads(genesis.read_text())
        sources: list[Any] = list(rpc) if rpc else [ApiRelay(s.node, timeout=s.timeout)]
        return LightClient(sources, doc, witnesses=[ApiRelay(w, timeout=s.timeout) for w in witnesses],
                           trusting_period=period)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BaychainError(Code.BAD_REQUEST, f"cannot use {genesis} as a light-client anchor: {exc}") from None


# -- events ---------------------------------------------------------------------------------


@events_app.command("search")
def events_search(
    ctx: typer.Context,
    event_type: str = typer.Argument(..., metavar="TYPE", help="Event type, e.g. points.issued"),
    attr: Optional[str] = typer.Option(None, help="Attribute name to match"),
    value: Optional[str] = typer.Option(None, help="Attribute value to match"),
    from_height: int = typer.Option(0, help="Start at this height"),
    limit: int = typer.Option(100, help="At most this many"),
) -> None:
    """Find committed transactions that emitted an event."""
    s = settings(ctx)
    with s.client() as client:
        found = client.search_events(event_type, attr, value, from_height=from_height, limit=limit)
    if s.json:
        emit_json({"txs": [r.to_json() for r in found]})
        return
    rows = []
    for r in found:
        for e in r.events:
            if e["type"] == event_type:
                rows.append([r.height, r.hash, json.dumps(e["attributes"], ensure_ascii=False)])
    table(["height", "tx", "attributes"], rows)


@events_app.command("watch")
def events_watch(
    ctx: typer.Context,
    event_type: Optional[str] = typer.Option(None, "--type", help="Only transaction events of this type"),
    count: int = typer.Option(0, help="Stop after this many transaction events (0 = run until interrupted)"),
    blocks: bool = typer.Option(False, "--blocks", help="Also print a line per committed block"),
) -> None:
    """Follow events as blocks are committed (server-sent events)."""
    s = settings(ctx)
    seen = 0
    with s.client() as client:
        stream = client.stream_events(event_type)
        try:
            for ev in stream:
                if ev.event == "overflow":
                    raise BaychainError(Code.LIMIT_EXCEEDED, "the node dropped this stream: it fell too far behind")
                if ev.event == "block" and not blocks:
                    continue
                if s.json:
                    typer.echo(json.dumps({"event": ev.event, **ev.data}, ensure_ascii=False))
                elif ev.event == "block":
                    typer.echo(f"block {ev.data['height']}  {ev.data['num_txs']} txs  app hash {ev.data['app_hash']}")
                else:
                    attrs = json.dumps(ev.data.get("attributes", {}), ensure_ascii=False)
                    typer.echo(f"{ev.data['height']}  {ev.data['type']}  {attrs}  tx {ev.data['tx']}")
                if ev.event == "tx_event":
                    seen += 1
                    if count and seen >= count:
                        break
        finally:
            stream.close()


def _print_receipt(r: Receipt, header: bool = True) -> None:
    rows: list[tuple[str, Any]] = []
    if header:
        rows.append(("hash", r.hash))
    if r.status == "pending":
        rows.append(("status", "pending (admitted to the mempool; not yet committed)"))
        kv(rows)
        return
    rows.append(("status", f"committed at height {r.height} (index {r.index})"))
    rows.append(("result", "OK" if r.ok else f"{r.error} (code {r.code}): {r.log}"))
    if r.data is not None:
        rows.append(("data", r.data))
    rows.append(("compute", r.compute_used))
    for e in r.events:
        rows.append(("event", f"{e['type']} {json.dumps(e['attributes'], ensure_ascii=False)}"))
    kv(rows)
