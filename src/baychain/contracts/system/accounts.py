"""Account registry: a public name and profile for an account address.

Any key pair is an account (its address derives from the public key); registering
gives it a unique, human-readable name and metadata that others can look up.
"""

from __future__ import annotations

import re
from typing import Any

from baychain.contracts.base import Contract, view
from baychain.contracts.context import Context
from baychain.errors import Code

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}\Z")


class Accounts(Contract):
    """Register account names and profiles; resolve names to addresses."""

    name = "accounts"

    def register(self, ctx: Context, name: str, metadata: dict = {}) -> None:  # noqa: B006 - never mutated
        """Give the sender's account a unique name (3-64 chars: a-z 0-9 . _ -) and metadata."""
        ctx.require(bool(_NAME.match(name)), Code.BAD_ARGUMENTS, "name must be 3-64 characters of a-z 0-9 . _ -")
        ctx.require(not ctx.has(f"acct/{ctx.sender}"), Code.ALREADY_EXISTS, f"account {ctx.sender} is already registered")
        ctx.require(not ctx.has(f"name/{name}"), Code.ALREADY_EXISTS, f"name {name!r} is taken")
        ctx.put(f"acct/{ctx.sender}", {"address": ctx.sender, "name": name, "metadata": metadata, "registered_height": ctx.height, "registered_time_ns": ctx.time_ns})
        ctx.put(f"name/{name}", ctx.sender)
        ctx.emit("registered", address=ctx.sender, name=name)

    def update(self, ctx: Context, metadata: dict) -> None:
        """Replace the sender's profile metadata."""
        account = ctx.get(f"acct/{ctx.sender}")
        ctx.require(account is not None, Code.NOT_FOUND, f"account {ctx.sender} is not registered")
        account["metadata"] = metadata
        ctx.put(f"acct/{ctx.sender}", account)
        ctx.emit("updated", address=ctx.sender)

    @view
    def get(self, ctx: Context, address: str) -> Any:
        """The registered profile of an address."""
        account = ctx.get(f"acct/{address}")
        ctx.require(account is not None, Code.NOT_FOUND, f"account {address} is not registered")
        return account

    @view
    def resolve(self, ctx: Context, name: str) -> Any:
        """The address registered under a name."""
        address = ctx.get(f"name/{name}")
        ctx.require(address is not None, Code.NOT_FOUND, f"name {name!r} is not registered")
        return address
