"""The gateway's two listeners: the peer endpoint (mutual TLS) and the owner's admin API.

    peer   https://<peer_host>:<peer_port>   TLS 1.3, client certificate required; bodies are
           canonical CBOR. POST /v1/peer/verify, POST /v1/peer/transfer. The caller's
           organisation is taken from its certificate and the registry on chain, per request.
    admin  http://127.0.0.1:<admin_port>     loopback only, `Authorization: Bearer <admin.token>`;
           JSON. What the CLI (`baychain gateway ...`) drives: records, anchors, consent,
           assessments, filings, grants, send, verify, received.

Errors answer with the stable code: {"code", "error", "message"} and an HTTP status
(400 bad input, 403 refused by a rule or an untrusted peer, 404 not found, 409 exists).
The standard library's threading HTTP server is enough here: a gateway serves a few
organisations, and ssl gives direct access to the peer's certificate.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from baychain import encoding
from baychain.errors import BaychainError, Code
from baychain.gateway.config import admin_token
from baychain.gateway.service import Gateway, TransferRefused
from baychain.sdk.client import jsonable

log = logging.getLogger("baychain.gateway")
MAX_BODY = 1 << 20
HANDSHAKE_TIMEOUT = 10.0
PURGE_INTERVAL = 3600.0  # seconds between retention sweeps of received records
_STATUS = {Code.BAD_REQUEST: 400, Code.BAD_ARGUMENTS: 400, Code.RECORD_INVALID: 400, Code.NOT_FOUND: 404,
           Code.ALREADY_EXISTS: 409, Code.UNAVAILABLE: 502, Code.TIMEOUT: 504, Code.INTERNAL: 500}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise BaychainError(Code.BAD_REQUEST, f"a request body is at most {MAX_BODY} bytes")
            raw = self.rfile.read(length) if length else b""
            value = self.server.route(self, method, self.path.split("?")[0], raw)
            self._reply(200, value)
        except TransferRefused as exc:
            self._reply(403, {**exc.to_dict(), "transfer": exc.transfer_id})
        except BaychainError as exc:
            self._reply(_STATUS.get(exc.code, 403), exc.to_dict())
        except Exception as exc:  # a bug: say so without leaking anything
            log.exception("gateway request failed")
            self._reply(500, BaychainError(Code.INTERNAL, f"gateway error: {type(exc).__name__}").to_dict())

    def _reply(self, status: int, value: Any) -> None:
        body, kind = self.server.encode(value)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer, metaclass=ABCMeta):
    """What both endpoints share: one thread per request; each says how it routes and encodes."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__(address, _Handler)

    @abstractmethod
    def route(self, handler: _Handler, method: str, path: str, raw: bytes) -> Any:
        """The answer to one request (raise BaychainError to refuse it)."""

    @abstractmethod
    def encode(self, value: Any) -> tuple[bytes, str]:
        """An answer's body and content type."""


class PeerServer(_Server):
    """The mutual-TLS endpoint other gateways call."""

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        super().__init__(address, gateway)
        self.socket = gateway.server_tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake in the request's own thread, so a slow or hostile peer blocks no one."""
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            request.do_handshake()
        except (OSError, ValueError) as exc:
            log.info("TLS handshake with %s refused: %s", client_address, exc)
            return
        super().finish_request(request, client_address)

    def route(self, handler: _Handler, method: str, path: str, raw: bytes) -> Any:
        peer = self.gateway.identify(handler.connection.getpeercert(binary_form=True))
        body = encoding.decode(raw, Code.BAD_REQUEST) if raw else None
        if (method, path) == ("POST", "/v1/peer/verify"):
            return self.gateway.peer_verify(peer, body)
        if (method, path) == ("POST", "/v1/peer/transfer"):
            return self.gateway.peer_transfer(peer, body)
        raise BaychainError(Code.NOT_FOUND, f"no peer endpoint {method} {path}")

    def encode(self, value: Any) -> tuple[bytes, str]:
        return encoding.encode(value), "application/cbor"


class AdminServer(_Server):
    """The owner's loopback API, guarded by the bearer token in the gateway home."""

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        super().__init__(address, gateway)
        self.token = admin_token(gateway.home)
        g = gateway
        self.routes: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
            ("GET", "/v1/status"): lambda a: {"organisation": g.organisation, "jurisdiction": g.jurisdiction,
                                              "address": g.signer.address, "node": g.config.node,
                                              "peer": f"{g.config.peer_host}:{g.config.peer_port}"},
            ("GET", "/v1/records"): lambda a: g.records(),
            ("POST", "/v1/records"): lambda a: g.put(a["id"], a["record"], anchor=bool(a.get("anchor")),
                                                     schema=a.get("schema", "")),
            ("POST", "/v1/anchor"): lambda a: g.anchor(a["id"], a.get("schema", "")),
            ("POST", "/v1/consents"): lambda a: {"id": g.consent(a["subject"], a["recipient"], a["purpose"],
                                                                 a["categories"], expiry_ns=a["expiry_ns"],
                                                                 reference=a.get("reference", ""))},
            ("POST", "/v1/consents/withdraw"): lambda a: g.withdraw_consent(a["id"]),
            ("POST", "/v1/assessments"): lambda a: {"id": g.assess(a["reference"], a["document"].encode(),
                                                                   a["recipient"], a["purpose"], a["categories"])},
            ("POST", "/v1/filings"): lambda a: {"id": g.file(a["reference"], a["assessment"], a["recipient"],
                                                             a["recipient_jurisdiction"], a["purpose"], a["categories"],
                                                             a["retention_days"])},
            ("POST", "/v1/grants"): lambda a: {"id": g.grant(a["grantee"], a["purpose"], a["categories"],
                                                             expiry_ns=a["expiry_ns"])},
            ("POST", "/v1/grants/revoke"): lambda a: g.revoke_grant(a["id"]),
            ("POST", "/v1/send"): lambda a: g.send(a["id"], a["peer"], a["purpose"]),
            ("POST", "/v1/verify"): lambda a: g.verify_at(a["peer"], a["record"], a["purpose"]),
            ("GET", "/v1/received"): lambda a: g.received(),
        }

    def route(self, handler: _Handler, method: str, path: str, raw: bytes) -> Any:
        given = handler.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            raise BaychainError(Code.NOT_AUTHORIZED, "the admin API needs the token in <home>/admin.token")
        action = self.routes.get((method, path))
        if action is None:
            raise BaychainError(Code.NOT_FOUND, f"no admin endpoint {method} {path}")
        try:
            args = json.loads(raw) if raw else {}
        except ValueError:
            raise BaychainError(Code.BAD_REQUEST, "the request body is not JSON") from None
        if type(args) is not dict:
            raise BaychainError(Code.BAD_REQUEST, "the request body is a JSON object")
        try:
            return action(args)
        except KeyError as exc:
            raise BaychainError(Code.BAD_REQUEST, f"missing field {exc.args[0]!r}") from None
        except TypeError as exc:
            raise BaychainError(Code.BAD_REQUEST, f"a field has the wrong type: {exc}") from None

    def encode(self, value: Any) -> tuple[bytes, str]:
        return json.dumps(jsonable(value)).encode(), "application/json"


class Running:
    """A gateway's two servers, each on its own thread; `stop` shuts both down."""

    def __init__(self, gateway: Gateway) -> None:
        config = gateway.config
        self.gateway = gateway
        self.peer = PeerServer((config.peer_host, config.peer_port), gateway)
        self.admin = AdminServer((config.admin_host, config.admin_port), gateway)
        self._stopped = threading.Event()
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                                          name=f"gateway-{n}") for n, s in (("peer", self.peer), ("admin", self.admin))]
        self._threads.append(threading.Thread(target=self._purge, daemon=True, name="gateway-purge"))
        for t in self._threads:
            t.start()

    def _purge(self) -> None:
        """Delete received records whose retention period ended, now and then every PURGE_INTERVAL."""
        while not self._stopped.is_set():
            try:
                gone = self.gateway.purge_expired()
                if gone:
                    log.info("retention over: deleted the records of transfers %s", gone)
            except Exception:  # keep serving; the next round tries again
                log.exception("purging expired records failed")
            self._stopped.wait(PURGE_INTERVAL)

    @property
    def peer_address(self) -> str:
        host, port = self.peer.server_address[:2]
        return f"{host}:{port}"

    @property
    def admin_url(self) -> str:
        host, port = self.admin.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._stopped.set()
        for server in (self.peer, self.admin):
            server.shutdown()
            server.server_close()
        for t in self._threads:
            t.join(timeout=5)


def serve(gateway: Gateway) -> Running:
    """Start both listeners of an unlocked gateway."""
    if gateway.config.admin_host not in ("127.0.0.1", "::1", "localhost"):
        raise BaychainError(Code.BAD_REQUEST, "the admin API listens on loopback only")
    return Running(gateway)
