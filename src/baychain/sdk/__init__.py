"""The baychain Python SDK: keys, a node client with proof-checked reads, helpers.

    from baychain.sdk import Client, Key

Errors are `baychain.errors.BaychainError` with the same stable codes the node's API
and the CLI report.
"""

from baychain.errors import BaychainError, Code
from baychain.sdk.args import typed_args
from baychain.sdk.client import Client, ProvenState, Receipt, StreamEvent, TransactionFailed
from baychain.sdk.keys import Key, KeyInfo, KeyStore

__all__ = [
    "BaychainError",
    "Client",
    "Code",
    "Key",
    "KeyInfo",
    "KeyStore",
    "ProvenState",
    "Receipt",
    "StreamEvent",
    "TransactionFailed",
    "typed_args",
]
