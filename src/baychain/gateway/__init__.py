"""The data gateway: personal data stays with the organisation that holds it.

Each organisation runs a gateway beside its node (`baychain gateway start`). It keeps
records in an encrypted vault, anchors their keyed hashes on chain, answers other
organisations' verification requests without disclosing anything, and sends records
to other gateways over mutual TLS only when the chain (contract `dataex`) says the
transfer is allowed — recording every attempt either way. docs/DATA-EXCHANGE.md.

    records   the record form and its keyed hashes (HMAC under the owner's key)
    vault     secrets under the owner's passphrase; the sealed LMDB record store
    config    the gateway home: settings, keys, TLS material, signer
    tls       mutual TLS contexts; who a peer certificate speaks for, by the chain
    service   the gateway's operations (owner side and peer side)
    server    the peer (mTLS) and admin (loopback) listeners
"""

from baychain.gateway.config import GatewayConfig, init_home
from baychain.gateway.records import normalise, record_digest, subject_ref
from baychain.gateway.server import Running, serve
from baychain.gateway.service import Gateway, TransferRefused

__all__ = ["Gateway", "GatewayConfig", "Running", "TransferRefused", "init_home", "normalise", "record_digest",
           "serve", "subject_ref"]
