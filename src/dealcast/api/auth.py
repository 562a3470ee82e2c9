"""API keys -> callers. Keys come from `Settings.api_keys` (JSON) and/or
`Settings.api_keys_file` (JSON or YAML): a mapping key -> {"user_id", "role"}.

Keys are held only as SHA-256 digests and compared in constant time; a request without a
known key in the `X-API-Key` header gets 401. No keys configured means every request is
refused (fail closed), never that the API is open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dealcast.config import Settings
from dealcast.safety.policy import Caller

HEADER = "X-API-Key"
MIN_KEY_CHARS = 16


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class ApiKeys:
    """Known keys (as digests) and the caller each one stands for."""

    callers: tuple[tuple[bytes, Caller], ...] = field(default=())

    @classmethod
    def parse(cls, mapping: Mapping[str, Any], source: str = "api_keys") -> ApiKeys:
        """Validate a key -> {"user_id", "role"} mapping; ValueError names what is wrong."""
        if not isinstance(mapping, Mapping):
            raise ValueError(f"{source}: expected a mapping of API key -> {{user_id, role}}")
        out = []
        for n, (key, entry) in enumerate(mapping.items(), start=1):
            where = f"{source}: key #{n}"
            if not isinstance(key, str) or len(key.strip()) < MIN_KEY_CHARS:
                raise ValueError(f"{where}: an API key needs at least {MIN_KEY_CHARS} characters")
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where}: expected {{user_id, role}}, got {type(entry).__name__}")
            unknown = set(entry) - {"user_id", "role", "name"}
            if unknown:
                raise ValueError(
                    f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                    "valid: user_id, role, name"
                )
            try:
                caller = Caller(str(entry.get("user_id") or ""), str(entry.get("role") or ""))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            out.append((_digest(key.strip()), caller))
        return cls(tuple(out))

    def __len__(self) -> int:
        return len(self.callers)

    def lookup(self, key: str | None) -> Caller | None:
        """The caller behind `key`, or None. Every stored digest is compared (constant time)."""
        if not key:
            return None
        presented = _digest(key.strip())
        found = None
        for digest, caller in self.callers:
            if hmac.compare_digest(digest, presented):
                found = caller
        return found


def _read_file(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"api_keys_file: cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"api_keys_file: {path} is not valid JSON/YAML: {exc}") from None
    return data or {}


def load_api_keys(settings: Settings) -> ApiKeys:
    """Keys from settings (`api_keys` JSON, then `api_keys_file`); a key in both: the file's
    entry wins."""
    merged: dict[str, Any] = {}
    if settings.api_keys is not None:
        raw = settings.api_keys.get_secret_value().strip()
        if raw:
            try:
                merged.update(json.loads(raw))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"api_keys: not a JSON mapping of key -> {{user_id, role}}: {exc}"
                ) from None
    if settings.api_keys_file is not None:
        data = _read_file(settings.api_keys_file)
        if not isinstance(data, Mapping):
            raise ValueError("api_keys_file: expected a mapping of API key -> {user_id, role}")
        merged.update(data)
    return ApiKeys.parse(merged)
