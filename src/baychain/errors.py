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
    # 235-249: the contract runtime (baychain.runtime, docs/RUNTIME.md)
    CONTRACT_INVALID = 235  # the source is outside the contract language: refused at deploy
    CODE_NOT_APPROVED = 236  # no passed proposal approved this code hash for this contract name
    CONTRACT_DISABLED = 237  # the committee disabled the contract
    OUT_OF_COMPUTE = 238  # the call used up its compute budget (governance parameter runtime.max_compute)
    MEMORY_LIMIT = 239  # a value too large, or more allocation than the call's budget
    STORAGE_LIMIT = 240  # too many storage writes in one call, or a stored value too large
    EVENT_LIMIT = 241  # an event too large, or too many events
    CONTRACT_FAILED = 242  # the contract refused the call (require / fail)
    CONTRACT_ERROR = 243  # the contract's code failed (division by zero, a wrong type, ...)
    # 229-234: identity and governance; 235-249: contract runtime; 250-279: GBA scenario
    # contracts; 280-299: cross-boundary data exchange.
    # 250-264: supply-chain finance (vouchers) and e-invoices
    VOUCHER_CONSUMED = 250  # a split parent: its value lives on in its children, it is never spent again
    VOUCHER_LOCKED = 251  # locked for financing or financed: it cannot move
    VOUCHER_MATURED = 252  # at or past maturity: it cannot move or be financed
    WRONG_STATUS = 253  # the voucher's or invoice's status does not allow this action
    DOCUMENT_USED = 254  # the trade document already backs a voucher
    TERM_EXCEEDED = 255  # the payment term is longer than the governance limit
    SPLIT_NOT_CONSERVED = 256  # split amounts do not sum exactly to the parent
    DOUBLE_FINANCING = 257  # the voucher is already financed or locked for another bank; or the registration is used
    NOT_MATURED = 258  # settlement or overdue before the maturity date
    EXCEEDS_PAYMENT = 259  # the invoice amount is above the recorded payment
    ORDER_INVOICED = 260  # the order already has an invoice
    INVOICE_LOCKED = 261  # already submitted for reimbursement (or reimbursed), by any employer
    FILE_HASH_MISMATCH = 262  # the presented invoice file does not hash to the on-chain hash
    INVOICE_REVERSED = 263  # a red reversal blocks reimbursement
    REVERSAL_EXCEEDS = 264  # reversals would total more than the original invoice
    # 265-279: traceability (GS1 EPCIS 2.0 / CBV 2.0)
    EPCIS_INVALID = 265  # an EPCIS document or event is malformed or lacks a field its event type requires
    GS1_KEY_INVALID = 266  # a GS1 key, EPC URN or Digital Link URI is malformed
    GS1_CHECK_DIGIT = 267  # a GTIN, SSCC, GLN ... whose check digit is wrong
    EVENT_EXISTS = 268  # an event with this CBV event hash is already captured (events are never edited)
    EVENT_UNKNOWN = 269  # an error declaration for an event that was never captured
    EVENT_RETRACTED = 270  # the event was already retracted by an error declaration
    UNIT_UNKNOWN = 271  # a unit of measure the sensor query cannot convert
    # data exchange (contract dataex, baychain.gateway):
    POLICY_FORBIDS_TRANSFER = 280  # the jurisdiction pair's policy forbids the transfer (pair, category or retention)
    RECIPIENT_OUTSIDE_GBA = 281  # the recipient is not a registered, active organisation of GD, HK or MO
    CONSENT_MISSING = 282  # no consent of the subject covers this recipient and these categories
    CONSENT_WITHDRAWN = 283
    CONSENT_EXPIRED = 284
    FILING_MISSING = 285  # no standard-contract filing covers the transfer
    ASSESSMENT_MISSING = 286  # no personal-information impact assessment behind the filing
    PURPOSE_MISMATCH = 287  # consent, filing or assessment exist, but for another purpose
    GRANT_MISSING = 288  # no live access grant lets the requester verify these records
    TRANSFER_NOT_AUTHORISED = 289  # data arrived without an allowed transfer on chain for this sender and recipient
    PEER_UNTRUSTED = 290  # a gateway peer's TLS certificate is not a valid consortium node certificate
    VAULT_LOCKED = 291  # the gateway's vault could not be opened (wrong passphrase or damaged key file)
    RECORD_INVALID = 292  # a record is not of the form {"subject", "categories", "fields"}
    # 3xx: queries and the API
    BAD_REQUEST = 301
    HEIGHT_UNAVAILABLE = 302
    TIMEOUT = 303
    UNKNOWN_QUERY = 304
    PROOF_INVALID = 305
    FORK_DETECTED = 306  # a light client's witness serves another header of a height, and it verifies too
    TRUST_EXPIRED = 307  # a light client's trust rests on a header older than its trusting period: re-anchor
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
