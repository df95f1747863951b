"""A token: the first account to mint becomes its issuer; balances are integers."""

from contract import Map, Var, ctx, emit, export, is_address, require, view

balances = Map(int, default=0)
issuer = Var(str, default="")
supply = Var(int, default=0)

MAX_SUPPLY = 2**63 - 1


@export
def mint(to: str, amount: int):
    """Create new tokens for an account (the issuer only; the first minter becomes the issuer)."""
    if issuer.get() == "":
        issuer.set(ctx.sender)
    require(issuer.get() == ctx.sender, "only the issuer mints", "NOT_AUTHORIZED")
    require(is_address(to), "not an account address", "BAD_ARGUMENTS")
    require(0 < amount <= MAX_SUPPLY - supply.get(), "amount out of range", "BAD_ARGUMENTS")
    supply.set(supply.get() + amount)
    balances[to] += amount
    emit("minted", to=to, amount=amount)


@export
def transfer(to: str, amount: int):
    """Move tokens from the sender to another account."""
    require(amount > 0, "amount must be positive", "BAD_ARGUMENTS")
    balance = balances[ctx.sender]
    require(balance >= amount, "balance too low", "INSUFFICIENT_BALANCE")
    balances[ctx.sender] = balance - amount
    balances[to] += amount
    emit("transferred", sender=ctx.sender, to=to, amount=amount)


@view
def balance_of(account: str) -> int:
    """An account's balance (0 if it holds none)."""
    return balances[account]


@view
def total_supply() -> int:
    """All tokens minted so far."""
    return supply.get()
