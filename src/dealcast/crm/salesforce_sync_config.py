"""Salesforce sync settings (env prefix `DEALCAST_SFDC_`), auth and the field mapping.

Secrets are `SecretStr` and never logged; only the kind of authentication is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import requests
import yaml
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from simple_salesforce import Salesforce

from dealcast.crm.custom_fields import CustomMap, parse_custom_map
from dealcast.crm.records import RECORDS_BY_OBJECT

log = logging.getLogger(__name__)


class SalesforceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEALCAST_SFDC_", env_file=".env", extra="ignore")

    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    privatekey_file: Path | None = Field(None, description="PEM key for the OAuth JWT flow.")
    domain: str = Field("login", description="login, test, or a My Domain prefix.")
    session_id: SecretStr | None = None
    instance_url: str | None = None
    api_version: str = "59.0"
    loopback: str | None = Field(
        None, description="http://127.0.0.1:PORT: route https:// to a local emulator."
    )
    timeout: float = 30.0
    daily_budget: int = Field(5000, description="API calls per day we allow ourselves.")
    budget_reserve: int = Field(50, description="Calls kept back for other integrations.")
    overlap_seconds: int = Field(300, description="Incremental reads re-read this window.")
    bulk_poll_seconds: float = 0.5
    field_map_file: Path | None = Field(
        None,
        description="YAML: Object: {field: ApiName} renames contract fields; a `custom:` "
        "section maps custom fields to features: custom: {Opportunity: {Budget_Confirmed__c: "
        "budget_confirmed}}.",
    )
    stale_after_seconds: int = 3600

    def auth_kind(self) -> str:
        if self.username and self.password and self.security_token is not None:
            return "password"
        if self.username and self.consumer_key and self.privatekey_file:
            return "jwt"
        if self.username and self.password and self.consumer_key and self.consumer_secret:
            return "oauth-password"
        if self.consumer_key and self.consumer_secret:
            return "client-credentials"
        if self.session_id and self.instance_url:
            return "session"
        raise ValueError(
            "no Salesforce credentials: set DEALCAST_SFDC_USERNAME/PASSWORD/SECURITY_TOKEN, "
            "or CONSUMER_KEY with PRIVATEKEY_FILE (JWT) or CONSUMER_SECRET (client "
            "credentials), or SESSION_ID with INSTANCE_URL"
        )

    def can_reauthenticate(self) -> bool:
        return self.auth_kind() != "session"


def salesforce_configured(sfdc: SalesforceSettings) -> bool:
    """Are credentials for one of the authentication flows set?"""
    try:
        sfdc.auth_kind()
    except ValueError:
        return False
    return True


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def connect(settings: SalesforceSettings, session: requests.Session) -> Salesforce:
    """A simple-salesforce client for the configured authentication."""
    kind = settings.auth_kind()
    log.info("connecting to Salesforce (%s auth, API v%s)", kind, settings.api_version)
    common: dict[str, Any] = {"session": session, "version": settings.api_version}
    if kind == "password":
        return Salesforce(
            username=settings.username,
            password=_secret(settings.password),
            security_token=_secret(settings.security_token),
            domain=settings.domain,
            **common,
        )
    if kind == "jwt":
        return Salesforce(
            username=settings.username,
            consumer_key=settings.consumer_key,
            privatekey_file=str(settings.privatekey_file),
            domain=settings.domain,
            **common,
        )
    if kind == "oauth-password":
        return Salesforce(
            username=settings.username,
            password=_secret(settings.password),
            consumer_key=settings.consumer_key,
            consumer_secret=_secret(settings.consumer_secret),
            domain=settings.domain,
            **common,
        )
    if kind == "client-credentials":
        return Salesforce(
            consumer_key=settings.consumer_key,
            consumer_secret=_secret(settings.consumer_secret),
            domain=settings.domain,
            **common,
        )
    return Salesforce(
        session_id=_secret(settings.session_id), instance_url=settings.instance_url, **common
    )


CUSTOM_SECTION = "custom"


def _read_map(path: Path) -> dict[str, Any]:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of objects to field mappings")
    return raw


def load_field_map(path: Path | None) -> dict[str, dict[str, str]]:
    """`{Object: {contract field: Salesforce API name}}`; e.g. `Opportunity: {Amount:
    Amount__c}`. Fields not listed keep their standard names. (The `custom:` section is
    `load_custom_map`'s.)"""
    if path is None:
        return {}
    raw = _read_map(path)
    out: dict[str, dict[str, str]] = {}
    for obj, fields in raw.items():
        if obj == CUSTOM_SECTION:
            continue
        record = RECORDS_BY_OBJECT.get(str(obj))
        if record is None:
            raise ValueError(f"{path}: unknown object {obj!r}")
        if not isinstance(fields, dict):
            raise ValueError(f"{path}: {obj} must map contract fields to API names")
        for name in fields:
            if name not in record.model_fields:
                raise ValueError(f"{path}: {obj} has no contract field {name!r}")
        out[str(obj)] = {str(k): str(v) for k, v in fields.items()}
    return out


def load_custom_map(path: Path | None) -> CustomMap:
    """The field map's `custom:` section: `{Object: {custom field API name: feature}}`,
    e.g. `custom: {Opportunity: {Budget_Confirmed__c: budget_confirmed}}` (see
    `crm.custom_fields`)."""
    if path is None:
        return {}
    return parse_custom_map(_read_map(path).get(CUSTOM_SECTION), str(path))
