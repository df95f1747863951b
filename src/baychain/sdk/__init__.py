"""The baychain Python SDK: keys, a node client with proof-checked reads, helpers.

    from baychain.sdk import Client, Key

Errors are `baychain.errors.BaychainError` with the same stable codes the node's API
and the CLI report.
"""

from baychain.errors import BaychainError, Code
from baychain.sdk.args import typed_args
from baychain.sdk.client import Client, ProvenState, Receipt, StreamEvent, TransactionFailed
from baychain.sdk.keys import Key, KeyInfo, KeyStore



def __getattr__(name: str):
    # The light client needs CometBFT's protobuf modules: import it only when asked for.
    if name in ("LightClient", "ApiRelay", "LightError"):
        from baychain.network import light

        return getattr(light, name)
    raise AttributeError(f"module 'baychain.sdk' has no attribute {name!r}")


__all__ = [
    "ApiRelay",
    "BaychainError",
    "Client",
    "Code",
    "Key",
    "KeyInfo",
    "KeyStore",
    "LightClient",
    "LightError",
    "ProvenState",
    "Receipt",
    "StreamEvent",
    "TransactionFailed",
    "typed_args",
]
