"""Built-in contracts for the Greater Bay Area scenarios (supply-chain finance,
e-invoices, traceability, ...), available on every chain from genesis.

Each scenario is one module holding one native contract, written against the
`Context` API only so it can move onto the sandboxed runtime unchanged. To add a
scenario, import its contract here and append one instance to the list.
"""

from __future__ import annotations

from baychain.contracts.base import Contract
from baychain.contracts.gba.einvoice import EInvoice
from baychain.contracts.gba.scf import SupplyChainFinance
from baychain.contracts.gba.trace import Trace


def gba_contracts() -> list[Contract]:
    """Fresh instances of the GBA scenario contracts."""
    return [
        SupplyChainFinance(),
        EInvoice(),
        Trace(),
    ]
