"""`baychain contract`: write, test, propose, deploy, call and read deployed contracts.

    baychain contract new token                      # token/token.py + token/test_token.py
    baychain contract check token/token.py           # the chain's language check, locally; code hash; interface
    baychain contract test token                     # its tests against a real embedded chain
    baychain contract propose token token/token.py -k member    # committee votes with `gov vote`
    baychain contract deploy token token/token.py -k me         # after the proposal passed
    baychain contract call token transfer -k me -a to=bc1… -a amount=5     (= baychain tx send)
    baychain contract query token balance_of -a account=bc1…               (= baychain query)
    baychain contract list · contract info token · contract source token --version 1
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from baychain.cli import chain
from baychain.cli.chain import _print_receipt  # one receipt layout for every call
from baychain.cli.keys import KeysDir, Passphrase, load_key
from baychain.cli.output import emit_json, kv, settings, table, timestamp
from baychain.errors import BaychainError, Code
from baychain.runtime.contracts import source as shipped_source
from baychain.runtime.deployed import code_hash
from baychain.runtime.language import check
from baychain.sdk.contracts import Contracts

app = typer.Typer(help="Deployed contracts: new, check, test, propose, deploy, call, query, list, info, source.",
                  no_args_is_help=True)

KeyOpt = typer.Option(..., "--key", "-k", help="Signing key (name in the key directory or key file)")
NAME_HELP = "Contract name (2-32 characters a-z 0-9 _)"

TEST_TEMPLATE = '''"""Tests of the {name} contract, run by `baychain contract test` on a real local chain."""


def test_mint_then_transfer(chain):
    alice, bob = chain.accounts[:2]
    chain.deploy("{name}", chain.source("{name}.py"))
    chain.call(alice, "{name}", "mint", to=alice.address, amount=100)
    chain.call(alice, "{name}", "transfer", to=bob.address, amount=30)
    assert chain.view("{name}", "balance_of", account=alice.address) == 70
    assert chain.view("{name}", "balance_of", account=bob.address) == 30


def test_an_overdraft_changes_nothing(chain):
    alice, bob = chain.accounts[:2]
    chain.deploy("{name}", chain.source("{name}.py"))
    chain.call(alice, "{name}", "mint", to=bob.address, amount=5)
    result = chain.send(bob, "{name}", "transfer", to=alice.address, amount=6)
    assert result.error == "INSUFFICIENT_BALANCE"
    assert chain.view("{name}", "balance_of", account=bob.address) == 5


def test_only_the_issuer_mints(chain):
    alice, bob = chain.accounts[:2]
    chain.deploy("{name}", chain.source("{name}.py"))
    chain.call(alice, "{name}", "mint", to=alice.address, amount=1)
    assert chain.send(bob, "{name}", "mint", to=bob.address, amount=1).error == "NOT_AUTHORIZED"
'''


def _read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BaychainError(Code.CONTRACT_INVALID, f"{path} is not UTF-8 text") from None


@app.command()
def new(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    directory: Path = typer.Option(Path("."), "--dir", help="Create the contract's folder here"),
) -> None:
    """Start a contract from the token template: NAME/NAME.py and NAME/test_NAME.py."""
    from baychain.runtime.registry import NAME_RULE

    if not NAME_RULE.match(name):
        raise BaychainError(Code.BAD_ARGUMENTS, "contract names are 2-32 characters a-z 0-9 _, starting with a letter")
    folder = directory / name
    if folder.exists():
        raise BaychainError(Code.ALREADY_EXISTS, f"{folder} already exists")
    folder.mkdir(parents=True)
    (folder / f"{name}.py").write_text(shipped_source("token"), encoding="utf-8")
    (folder / f"test_{name}.py").write_text(TEST_TEMPLATE.format(name=name), encoding="utf-8")
    if settings(ctx).json:
        emit_json({"contract": str(folder / f"{name}.py"), "tests": str(folder / f"test_{name}.py")})
    else:
        typer.echo(f"created {folder}/{name}.py and {folder}/test_{name}.py; run: baychain contract test {folder}")


@app.command("check")
def check_cmd(ctx: typer.Context, path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Contract source")) -> None:
    """Run the chain's language check locally; show the code hash to approve and the interface."""
    source = _read_source(path)
    program = check(source)
    exports = [{"name": e.name, "view": e.is_view, "doc": e.doc,
                "params": [{"name": p.name, "type": p.type.__name__, "required": p.required} for p in e.params]}
               for _, e in sorted(program.exports.items())]
    if settings(ctx).json:
        emit_json({"code_hash": code_hash(source).hex(), "doc": program.doc, "methods": exports,
                   "storage": list(program.storage)})
        return
    kv([("code hash", code_hash(source).hex()), ("storage", ", ".join(program.storage) or "-"),
        ("doc", program.doc.strip().split("\n")[0])])
    _methods_table([{"name": path.stem, "methods": [dict(e, governed=False) for e in exports]}])


@app.command("test")
def test_cmd(ctx: typer.Context, path: Path = typer.Argument(Path("."), exists=True, help="Folder with test_*.py (or one file)")) -> None:
    """Run a contract's tests, each on a fresh single-node chain (solo engine, real storage)."""
    from baychain.runtime.harness import run_tests

    as_json = settings(ctx).json

    def show(outcome: object) -> None:
        if not as_json:
            o = outcome  # type: ignore[assignment]
            mark = "ok  " if o.passed else "FAIL"  # type: ignore[attr-defined]
            typer.echo(f"{mark} {o.file}::{o.name}" + ("" if o.passed else f"\n     {o.message}"))  # type: ignore[attr-defined]

    outcomes = run_tests(path, on_result=show)
    failed = [o for o in outcomes if not o.passed]
    if as_json:
        emit_json({"passed": len(outcomes) - len(failed), "failed": len(failed),
                   "tests": [{"file": o.file, "name": o.name, "passed": o.passed, "message": o.message} for o in outcomes]})
    else:
        typer.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command()
def propose(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Contract source"),
    title: str = typer.Option("", "--title", help="What the proposal does (default: deploy NAME (hash))"),
    description: str = typer.Option("", "--description", help="Why"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Propose that the committee approve this exact source (its SHA-256) for NAME."""
    s = settings(ctx)
    source = _read_source(path)
    with s.client() as client:
        pid = Contracts(client, timeout=s.timeout).propose(load_key(key, keys_dir, passphrase), name, source,
                                                           title=title, description=description)
    if s.json:
        emit_json({"proposal": pid, "name": name, "code_hash": code_hash(source).hex()})
        return
    kv([("proposal", pid), ("contract", name), ("code hash", code_hash(source).hex())])
    typer.echo(f"members vote with: baychain gov vote {pid} --key <member key>; "
               f"then: baychain contract deploy {name} {path} --key <any key>")


@app.command()
def deploy(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Contract source (as approved)"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Upload an approved source: deploy NAME, or upgrade it to a new version."""
    s = settings(ctx)
    source = _read_source(path)
    check(source)
    with s.client() as client:
        receipt = Contracts(client, timeout=s.timeout).deploy(load_key(key, keys_dir, passphrase), name, source)
    if s.json:
        emit_json(receipt.to_json())
    else:
        _print_receipt(receipt)


# A call and a view of a deployed contract are those of any contract: one implementation.
app.command("call")(chain.tx_send)
app.command("query")(chain.query)


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Deployed contracts (and the built-in ones that run on the runtime): version, status, code hash."""
    s = settings(ctx)
    with s.client() as client:
        found = [c for c in client.contracts() if "runtime" in c]
    if s.json:
        emit_json({"contracts": [{"name": c["name"], **c["runtime"], "doc": c["doc"]} for c in found]})
        return
    table(["contract", "version", "status", "code hash", "description"],
          [[c["name"], c["runtime"]["version"] or "built-in", c["runtime"]["status"], c["runtime"]["code_hash"][:16],
            c["doc"].split("\n")[0]] for c in found])


@app.command()
def info(ctx: typer.Context, name: str = typer.Argument(..., help=NAME_HELP)) -> None:
    """A deployed contract: its record, versions and interface (methods, argument types, docs)."""
    s = settings(ctx)
    with s.client() as client:
        registry = Contracts(client, timeout=s.timeout)
        record, versions = registry.info(name), registry.versions(name)
        interface = next((c for c in client.contracts() if c["name"] == name), None)
    if s.json:
        emit_json({"record": record, "versions": versions, "interface": interface})
        return
    kv([("contract", name), ("version", record["version"]), ("status", record["status"] +
        (f" ({record['reason']})" if record.get("reason") else "")), ("code hash", record["code_hash"]),
        ("deployed by", record["deployer"]), ("at", f"height {record['height']}, {timestamp(record['time_ns'])}")])
    if interface is not None:
        _methods_table([interface])


@app.command()
def source(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    version: int = typer.Option(0, "--version", help="Version (0 = current)"),
) -> None:
    """Print the source of a deployed contract's version."""
    s = settings(ctx)
    with s.client() as client:
        text = Contracts(client, timeout=s.timeout).source(name, version)
    if s.json:
        emit_json({"name": name, "version": version, "source": text, "code_hash": code_hash(text).hex()})
    else:
        typer.echo(text, nl=False)


def _methods_table(contracts: list[dict]) -> None:
    rows = []
    for c in contracts:
        for m in c["methods"]:
            params = ", ".join(f"{p['name']}: {p['type']}{'' if p['required'] else '?'}" for p in m["params"])
            kind = "view" if m["view"] else "governed" if m.get("governed") else "tx"
            rows.append([c["name"], m["name"], kind, params, (m.get("doc") or "").split("\n")[0]])
    table(["contract", "method", "kind", "params (? = optional)", "description"], rows)
