"""Authentication the way Salesforce answers it: SOAP login (partner API) and OAuth 2.0."""

from __future__ import annotations

import base64
import html
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

ORG_ID = "00DE0000000DeaLCAS"
USER_ID = "005E0000000SyncUAA"


@dataclass
class Credentials:
    username: str = "sync@dealcast.example"
    password: str = "emulator-password"
    security_token: str = "emulator-token"
    consumer_key: str = "dealcast-consumer-key"
    consumer_secret: str = "dealcast-consumer-secret"
    jwt_public_key: str | None = None  # PEM; None accepts any signature (tests)


@dataclass
class SessionInfo:
    token: str
    issued: float
    calls: int = 0


@dataclass
class Sessions:
    ttl_calls: int | None = None
    by_token: dict[str, SessionInfo] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    logins: int = 0

    def issue(self) -> str:
        token = f"{ORG_ID}!AQ0AQ{secrets.token_urlsafe(24)}"
        with self.lock:
            self.by_token[token] = SessionInfo(token, time.time())
            self.logins += 1
        return token

    def use(self, header: str | None) -> bool:
        """True if the bearer token is a live session (and count the call on it)."""
        if not header or not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :].strip()
        with self.lock:
            info = self.by_token.get(token)
            if info is None:
                return False
            if self.ttl_calls is not None and info.calls >= self.ttl_calls:
                del self.by_token[token]
                return False
            info.calls += 1
            return True

    def expire_all(self) -> int:
        with self.lock:
            n = len(self.by_token)
            self.by_token.clear()
            return n


def _tag(body: str, name: str) -> str | None:
    match = re.search(rf"<(?:[\w-]+:)?{name}\b[^>]*>(.*?)</(?:[\w-]+:)?{name}>", body, re.S)
    return html.unescape(match.group(1)) if match else None


def soap_login(
    body: str, creds: Credentials, sessions: Sessions, instance: str, version: str
) -> tuple[int, str]:
    username, password = _tag(body, "username"), _tag(body, "password")
    accepted = {creds.password + creds.security_token}
    if username != creds.username or password not in accepted:
        return 500, _soap_fault(
            "INVALID_LOGIN",
            "INVALID_LOGIN: Invalid username, password, security token; or user locked out.",
        )
    token = sessions.issue()
    server = f"https://{instance}/services/Soap/u/{version}/{ORG_ID}"
    meta = f"https://{instance}/services/Soap/m/{version}/{ORG_ID}"
    return 200, (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{meta}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{server}</serverUrl><sessionId>{token}</sessionId>"
        f"<userId>{USER_ID}</userId><userInfo><organizationId>{ORG_ID}</organizationId>"
        f"<userName>{html.escape(creds.username)}</userName></userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


def _soap_fault(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{html.escape(message)}</faultstring>"
        '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


def oauth_token(
    body: str, authorization: str | None, creds: Credentials, sessions: Sessions, instance: str
) -> tuple[int, dict[str, Any]]:
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    grant = form.get("grant_type")
    if grant == "password":
        if form.get("client_id") != creds.consumer_key or (
            form.get("client_secret") != creds.consumer_secret
        ):
            return 400, {
                "error": "invalid_client_id",
                "error_description": "client identifier invalid",
            }
        password = form.get("password") or ""
        ok = form.get("username") == creds.username and password in (
            creds.password,
            creds.password + creds.security_token,
        )
    elif grant == "client_credentials":
        expected = base64.b64encode(
            f"{creds.consumer_key}:{creds.consumer_secret}".encode()
        ).decode()
        ok = authorization == f"Basic {expected}"
        if not ok:
            return 400, {
                "error": "invalid_client",
                "error_description": "invalid client credentials",
            }
    elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        ok = _jwt_ok(form.get("assertion") or "", creds)
    else:
        return 400, {
            "error": "unsupported_grant_type",
            "error_description": "grant type not supported",
        }
    if not ok:
        return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
    token = sessions.issue()
    return 200, {
        "access_token": token,
        "instance_url": f"https://{instance}",
        "id": f"https://login.salesforce.com/id/{ORG_ID}/{USER_ID}",
        "token_type": "Bearer",
        "issued_at": str(int(time.time() * 1000)),
        "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def _jwt_ok(assertion: str, creds: Credentials) -> bool:
    import jwt

    try:
        if creds.jwt_public_key:
            claims = jwt.decode(
                assertion,
                creds.jwt_public_key,
                algorithms=["RS256"],
                options={"verify_aud": False},
            )
        else:
            claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    exp = float(claims.get("exp", 0))
    return (
        claims.get("iss") == creds.consumer_key
        and claims.get("sub") == creds.username
        and exp > time.time()
    )
