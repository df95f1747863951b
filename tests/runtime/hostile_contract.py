"""Every way to misbehave, one method each."""
from contract import Map, export, view, call, ctx, emit

marks = Map(int, default=0)


@export
def loop():
    marks["loop"] = 1
    while True:
        pass


@export
def bomb():
    marks["bomb"] = 1
    s = "ab"
    while True:
        s = s + s


@export
def spam():
    marks["spam"] = 1
    for i in range(1000):
        emit("e", i=i)


@export
def leak():
    marks["leak"] = 1
    return str(ctx)


@export
def setmark(name: str):
    marks[name] = 1


@export
def steal():
    """A call that wrote through another contract call, then fails: its writes must go too."""
    call("hostile", "setmark", name="steal")
    marks["other"] = 1 // 0


@export
def deep():
    marks["deep"] = 1
    call("hostile", "deep")


@export
def usurp():
    """Try to use committee powers from a contract."""
    marks["usurp"] = 1
    call("contracts", "approve", name="evil", code_hash=b"x" * 32)


@view
def mark(name: str) -> int:
    return marks[name]
