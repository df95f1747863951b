"""Built-in system contracts, available on every chain from genesis.

`accounts` and `notary` are built in too, but written in the contract language and run
by the runtime (src/baychain/runtime/contracts/, loaded by the application).
"""

from baychain.contracts.base import Contract
from baychain.contracts.gba import gba_contracts
from baychain.contracts.system.audit import Audit
from baychain.contracts.system.dataex import DataExchange
from baychain.contracts.system.governance import Governance
from baychain.contracts.system.identity import Identity
from baychain.contracts.system.network import Network
from baychain.contracts.system.points import Points
from baychain.contracts.system.policy import Policy


def system_contracts() -> dict[str, Contract]:
    """The built-in contracts by name (a fresh instance per application)."""
    contracts: list[Contract] = [Audit(), DataExchange(), Governance(), Identity(), Network(), Points(), Policy()]
    contracts += gba_contracts()  # the GBA scenario contracts (contracts/gba)
    return {c.name: c for c in contracts}
