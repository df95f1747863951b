"""Stable error codes.

Every rejected input — a transaction, an API request, a CLI argument — is answered
with one of these codes and a sentence saying what was wrong. Codes are part of the
public contract: they appear in receipts that are hashed into blocks, so a code's
number and name never change once released. Code 0 means success.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """Result codes. Numbers are frozen; add new codes at the end of their range."""

    OK = 0
    # 1xx: the transaction as bytes
    MALFORMED_TX = 101
    TX_TOO_LARGE = 102
    UNSUPPORTED_SUITE = 103
    BAD_SIGNATURE = 104
    WRONG_CHAIN_ID = 105
    NONCE_REPLAYED = 106
    NONCE_GAP = 107
    TX_EXPIRED = 108
    DUPLICATE_TX = 109
    MEMPOOL_FULL = 110
    # 2xx: what the transaction asks for
    UNKNOWN_CONTRACT = 201
    UNKNOWN_METHOD = 202
    BAD_ARGUMENTS = 203
    NOT_AUTHORIZED = 204
    NOT_FOUND = 205
    ALREADY_EXISTS = 206
    INSUFFICIENT_BALANCE = 207
    LIMIT_EXCEEDED = 208
    CERT_INVALID = 209  # malformed, or a signature in its chain does not verify
    CERT_SELF_SIGNED = 210
    CERT_UNKNOWN_CA = 211
    CERT_EXPIRED = 212
    CERT_NOT_YET_VALID = 213
    CERT_REVOKED = 214
    CERT_WRONG_USAGE = 215  # a CA certificate, or one whose key usage does not allow the purpose
    ACCOUNT_UNBOUND = 216  # the signing key is bound to no certificate (or was rotated out of its account)
    ORG_SUSPENDED = 217  # the certificate's organisation is suspended
    CERT_KEY_MISMATCH = 218  # the certificate certifies another key than the one that signed
    ACCOUNT_FROZEN = 219  # the account is frozen (by a committee decision or a regulator's expedited freeze)
    BLACKLISTED = 220  # the account or its organisation is on the negative list
    PERMISSION_DENIED = 221  # an access rule of the contract or method excludes the caller's role, organisation or jurisdiction
    NOT_A_MEMBER = 222  # only committee members propose and vote
    ALREADY_VOTED = 223
    PROPOSAL_EXPIRED = 224  # its voting period ended before it passed
    PROPOSAL_CLOSED = 225  # rejected, failed or already executed
    PROPOSAL_NOT_PASSED = 226  # still open: not enough weight has approved it yet
    GOVERNED_METHOD = 227  # the method runs only as an action of a passed proposal
    CALL_DEPTH_EXCEEDED = 228
    # 229-234: identity and governance; 235-249: contract runtime; 250-279: GBA scenario
    # contracts; 280-299: cross-boundary data exchange.
    # 3xx: queries and the API
    BAD_REQUEST = 301
    HEIGHT_UNAVAILABLE = 302
    TIMEOUT = 303
    UNKNOWN_QUERY = 304
    PROOF_INVALID = 305
    # 5xx: the node itself
    INTERNAL = 500
    UNAVAILABLE = 501  # the node could not be reached


class BaychainError(Exception):
    """An expected rejection: carries a stable code and a human sentence."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"code": int(self.code), "error": self.code.name, "message": self.message}
