"""The loopback HTTP server: routing, auth, API-usage accounting, faults, JSON errors.

Plain HTTP on 127.0.0.1; clients reach it through `loopback_session` (simple-salesforce
builds https:// URLs, the session's adapter sends them here).
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dealcast.crm.sfdc_emulator.auth import Credentials, Sessions, oauth_token, soap_login
from dealcast.crm.sfdc_emulator.data import OrgData
from dealcast.crm.sfdc_emulator.faults import Faults, FaultState
from dealcast.crm.sfdc_emulator.mutations import MutationReport, mutate
from dealcast.crm.sfdc_emulator.rest import ApiError, Response, RestApi, json_response

log = logging.getLogger(__name__)

DATA_PREFIX = "/services/data/"


@dataclass
class EmulatorOptions:
    credentials: Credentials = field(default_factory=Credentials)
    faults: Faults = field(default_factory=Faults)
    api_version: str = "59.0"
    instance: str = "dealcast-emulator.my.salesforce.com"
    page_size: int = 2000  # REST query page (Salesforce's default batch size)
    bulk_page_size: int = 50_000
    bulk_polls: int = 1  # job polls answered InProgress before JobComplete
    daily_api_limit: int = 5000  # Developer Edition


class Emulator:
    """A Salesforce org served over loopback HTTP. Use as a context manager or
    `start()`/`stop()`."""

    def __init__(
        self,
        source: Path | OrgData,
        options: EmulatorOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.options = options or EmulatorOptions()
        self.data = source if isinstance(source, OrgData) else OrgData.load(Path(source))
        for spec in self.options.faults.renamed_fields:
            target, _, new = spec.partition("=")
            obj, _, old = target.partition(".")
            self.data.rename_field(obj, old, new)
        self.sessions = Sessions(ttl_calls=self.options.faults.session_ttl_calls)
        self.fault_state = FaultState(self.options.faults)
        self.rest = RestApi(
            self.data,
            self.options.api_version,
            self.options.page_size,
            self.options.bulk_polls,
            self.options.bulk_page_size,
        )
        self.api_calls = 0  # calls counted against the daily limit
        self.requests: list[tuple[str, str, int]] = []  # method, path, status
        self._count_lock = threading.Lock()
        self._mutation_rng = random.Random(self.options.faults.seed + 1)
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- control (tests, CLI) -------------------------------------------------------
    def mutate(
        self, *, new_deals: int = 0, stage_changes: int = 0, deletions: int = 0
    ) -> MutationReport:
        return mutate(
            self.data,
            new_deals=new_deals,
            stage_changes=stage_changes,
            deletions=deletions,
            rng=self._mutation_rng,
        )

    def purge_deleted(self) -> int:
        """Empty the recycle bin: deleted rows leave queryAll (the deleted log stays)."""
        with self.data.lock:
            n = 0
            for table in self.data.tables.values():
                gone = [i for i, r in table.records.items() if r.get("IsDeleted")]
                for i in gone:
                    del table.records[i]
                n += len(gone)
            return n

    def expire_sessions(self) -> int:
        return self.sessions.expire_all()

    def reset_usage(self) -> None:
        with self._count_lock:
            self.api_calls = 0
        self.fault_state.refused = 0

    # ---- request handling -----------------------------------------------------------
    def dispatch(self, method: str, target: str, headers: Any, body: bytes) -> Response:
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/services/Soap/u/") and method == "POST":
            status, xml = soap_login(
                body.decode("utf-8", "replace"),
                self.options.credentials,
                self.sessions,
                self.options.instance,
                self.options.api_version,
            )
            return Response(status, xml.encode(), "text/xml;charset=UTF-8")
        if path.rstrip("/") == "/services/oauth2/token" and method == "POST":
            status, payload = oauth_token(
                body.decode("utf-8", "replace"),
                headers.get("Authorization"),
                self.options.credentials,
                self.sessions,
                self.options.instance,
            )
            return json_response(payload, status)
        if path.startswith("/_emulator/") and method == "POST":
            return self._control(path, body)
        if path.rstrip("/") == "/services/data":
            return self._with_usage(
                json_response(
                    [
                        {
                            "label": "Winter '24",
                            "url": f"/services/data/v{self.options.api_version}",
                            "version": self.options.api_version,
                        }
                    ]
                )
            )
        if path.startswith(DATA_PREFIX + "v"):
            return self._with_usage(self._api(method, path, parts.query, headers, body))
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _api(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Response:
        version, _, rest = path[len(DATA_PREFIX) + 1 :].partition("/")
        if not self.sessions.use(headers.get("Authorization")):
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        with self._count_lock:
            decision = self.fault_state.decide(self.api_calls + 1)
            if decision.status != 403:
                self.api_calls += 1
            over = self.api_calls > self.options.daily_api_limit
        if decision.delay:
            time.sleep(decision.delay)
        if decision.status:
            return _error(decision.status, decision.code, decision.message)
        if over:
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if version != self.options.api_version:
            return _error(404, "NOT_FOUND", f"API version v{version} is not served")
        try:
            return self.rest.handle(method, rest, query, body, self._usage())
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message)
        except Exception as exc:  # a bug of ours: answer like Salesforce does
            log.exception("emulator error")
            return _error(500, "UNKNOWN_EXCEPTION", f"{type(exc).__name__}: {exc}")

    def _usage(self) -> tuple[int, int]:
        return self.api_calls, self.options.daily_api_limit

    def _with_usage(self, response: Response) -> Response:
        used, total = self._usage()
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{total}"
        return response

    def _control(self, path: str, body: bytes) -> Response:
        spec = json.loads(body or b"{}")
        if path == "/_emulator/mutate":
            return json_response(self.mutate(**spec).as_dict())
        if path == "/_emulator/expire-sessions":
            return json_response({"expired": self.expire_sessions()})
        return _error(404, "NOT_FOUND", "unknown emulator control")


def _error(status: int, code: str, message: str) -> Response:
    return json_response([{"message": message, "errorCode": code}], status)


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "dealcast-sfdc-emulator"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in separate writes: without this, Nagle plus delayed
            # ACKs add ~40 ms to every keep-alive request
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            response = emulator.dispatch(self.command, self.path, self.headers, body)
            emulator.requests.append((self.command, self.path, response.status))
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
