"""How the CLI talks back: human text by default, one JSON document with --json.

Failures are reported the same way everywhere — `error CODE_NAME (code N): message`
on stderr, or `{"code": N, "error": "CODE_NAME", "message": "..."}` on stdout with
--json — and the process exits non-zero (1 for a rejected request, 2 for a bad
command line). The codes are the node's stable codes from `baychain.errors`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from baychain.errors import BaychainError, Code
from baychain.sdk.client import DEFAULT_NODE, Client, jsonable

try:  # typer >= 0.20 vendors its own click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

JSON_META = "baychain.json"


@dataclass
class Settings:
    """Global options, shared by every command through the click context."""

    node: str = DEFAULT_NODE
    json: bool = False
    timeout: float = 10.0

    def client(self) -> Client:
        return Client(self.node, timeout=self.timeout)


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings(json=bool(root.meta.get(JSON_META)))
    return root.obj


def dumps(data: Any) -> str:
    return json.dumps(jsonable(data), indent=2, ensure_ascii=False)


def emit_json(data: Any) -> None:
    typer.echo(dumps(data))


def report_error(exc: BaychainError, *, as_json: bool, extra: dict[str, Any] | None = None, hint: str = "") -> None:
    """Print a failure in the one format scripts and people can rely on."""
    if as_json:
        typer.echo(dumps({**exc.to_dict(), **(extra or {})}))
    else:
        typer.echo(f"error {exc.code.name} (code {int(exc.code)}): {exc.message}", err=True)
        if hint:
            typer.echo(hint, err=True)


def kv(rows: list[tuple[str, Any]]) -> None:
    """Aligned `label  value` lines."""
    width = max((len(label) for label, _ in rows), default=0)
    for label, value in rows:
        typer.echo(f"{label.ljust(width)}  {_text(value)}")


def table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    t = Table(*columns, title=title, show_edge=False, header_style="bold")
    for row in rows:
        t.add_row(*(_text(v) for v in row))
    console = Console(soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(soft_wrap=True, width=200)  # piped: do not wrap at 80 columns
    console.print(t)


def timestamp(time_ns: int | None) -> str:
    if not time_ns:
        return "-"
    seconds, rest = divmod(int(time_ns), 10**9)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{rest // 10**6:03d} UTC"


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(jsonable(value), ensure_ascii=False)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


GLOBAL_VALUE_OPTIONS = ("--node", "--timeout")


def hoist_global_options(args: list[str]) -> tuple[list[str], bool]:
    """Let global options appear anywhere before a `--`: move --node/--timeout (with
    their values) to the front, remove --json and say whether it was there."""
    end = args.index("--") if "--" in args else len(args)
    front: list[str] = []
    rest: list[str] = []
    as_json = False
    i = 0
    while i < end:
        token = args[i]
        if token == "--json":
            as_json = True
        elif token in GLOBAL_VALUE_OPTIONS and i + 1 < end:
            front += [token, args[i + 1]]
            i += 1
        elif token.startswith(tuple(o + "=" for o in GLOBAL_VALUE_OPTIONS)):
            front.append(token)
        else:
            rest.append(token)
        i += 1
    return front + rest + args[end:], as_json


def usage_error(exc: click_exceptions.UsageError) -> BaychainError:
    return BaychainError(Code.BAD_REQUEST, exc.format_message())
