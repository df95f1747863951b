"""Account registry: a public name and profile for an account address.

Any key pair is an account (its address derives from the public key); registering
gives it a unique, human-readable name and metadata that others can look up.
State keys: c/accounts/acct/<address> (the profile), c/accounts/name/<name> (the address).
"""

from contract import Map, ctx, emit, export, require, view

acct = Map(dict)
names = Map(str, prefix="name")

FIRST = "abcdefghijklmnopqrstuvwxyz0123456789"
REST = "abcdefghijklmnopqrstuvwxyz0123456789._-"


def valid(text):
    if not 3 <= len(text) <= 64 or text[0] not in FIRST:
        return False
    for c in text:
        if c not in REST:
            return False
    return True


@export
def register(name: str, metadata: dict = None):
    """Give the sender's account a unique name (3-64 chars: a-z 0-9 . _ -) and metadata."""
    require(valid(name), "name must be 3-64 characters of a-z 0-9 . _ -", "BAD_ARGUMENTS")
    require(ctx.sender not in acct, f"account {ctx.sender} is already registered", "ALREADY_EXISTS")
    require(name not in names, f"name '{name}' is taken", "ALREADY_EXISTS")
    acct[ctx.sender] = {"address": ctx.sender, "name": name, "metadata": {} if metadata is None else metadata,
                        "registered_height": ctx.height, "registered_time_ns": ctx.time}
    names[name] = ctx.sender
    emit("registered", address=ctx.sender, name=name)


@export
def update(metadata: dict):
    """Replace the sender's profile metadata."""
    account = acct[ctx.sender]
    require(account is not None, f"account {ctx.sender} is not registered", "NOT_FOUND")
    account["metadata"] = metadata
    acct[ctx.sender] = account
    emit("updated", address=ctx.sender)


@view
def get(address: str) -> dict:
    """The registered profile of an address."""
    account = acct[address]
    require(account is not None, f"account {address} is not registered", "NOT_FOUND")
    return account


@view
def resolve(name: str) -> str:
    """The address registered under a name."""
    address = names[name]
    require(address is not None, f"name '{name}' is not registered", "NOT_FOUND")
    return address
