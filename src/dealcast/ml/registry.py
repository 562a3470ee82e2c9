"""Model registry: semantic versions, artifacts in the database, champion and challengers.

`deal_scorer` versions are MAJOR.MINOR.PATCH: MAJOR when the feature set changes, MINOR for
a retrain on the same features, PATCH for a recalibration only. The artifact (booster,
calibrator, imputation medians) and its metadata (features, training window, data hash,
metrics) live in the `model_registry` table, so any past prediction can be reproduced from
its `model_version` on any machine that can reach the database.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from dealcast.crm import audit
from dealcast.crm.schema import model_registry
from dealcast.ml.features import FEATURE_NAMES
from dealcast.ml.model import CalibratedModel

NAME = "deal_scorer"

# Parsed artifacts, keyed by the artifact's bytes: a long-running service (or a scoring run
# per import) unpickles its champion once, and an edited artifact is never served stale.
# Models are never mutated after loading (recalibration builds a new one).
_LOADED: OrderedDict[bytes, CalibratedModel] = OrderedDict()
_LOADED_SIZE = 4
_LOADED_LOCK = threading.Lock()


def feature_set_hash(features: tuple[str, ...] | list[str] = FEATURE_NAMES) -> str:
    return hashlib.sha256(",".join(features).encode()).hexdigest()


class ModelUnavailable(Exception):
    """No usable model (none trained, unknown version, or a corrupt artifact)."""


@dataclass(frozen=True)
class ModelRecord:
    version: str
    status: str
    created_at: datetime
    promoted_at: datetime | None
    trained_as_of: datetime
    feature_set_hash: str
    data_hash: str
    info: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _record(row: Any) -> ModelRecord:
    return ModelRecord(
        row.version,
        row.status,
        row.created_at,
        row.promoted_at,
        row.trained_as_of,
        row.feature_set_hash,
        row.data_hash,
        row.info,
    )


class Registry:
    def __init__(self, engine: Engine, actor: str = "system") -> None:
        self.engine, self.actor = engine, actor

    def register(
        self,
        model: CalibratedModel,
        *,
        trained_as_of: datetime,
        data_hash: str,
        info: dict[str, Any],
        recalibration: bool = False,
    ) -> ModelRecord:
        """Store a new version (a challenger; the champion when there is none yet)."""
        features_hash = feature_set_hash(model.features)
        cols = model_registry.c
        with self.engine.begin() as conn:
            last = conn.execute(
                select(cols.major, cols.minor, cols.patch, cols.feature_set_hash)
                .where(cols.name == NAME)
                .order_by(cols.major.desc(), cols.minor.desc(), cols.patch.desc())
                .limit(1)
            ).first()
            if last is None:
                major, minor, patch = 1, 0, 0
            elif last.feature_set_hash != features_hash:
                major, minor, patch = last.major + 1, 0, 0
            elif recalibration:
                major, minor, patch = last.major, last.minor, last.patch + 1
            else:
                major, minor, patch = last.major, last.minor + 1, 0
            has_champion = (
                conn.execute(
                    select(cols.id).where(cols.name == NAME, cols.status == "champion")
                ).first()
                is not None
            )
            version = f"{major}.{minor}.{patch}"
            now = _now()
            conn.execute(
                model_registry.insert().values(
                    name=NAME,
                    version=version,
                    major=major,
                    minor=minor,
                    patch=patch,
                    status="challenger" if has_champion else "champion",
                    created_at=now,
                    promoted_at=None if has_champion else now,
                    trained_as_of=trained_as_of,
                    feature_set_hash=features_hash,
                    data_hash=data_hash,
                    info={**info, "features": list(model.features)},
                    artifact=model.to_bytes(),
                )
            )
            audit.append(
                conn,
                actor=self.actor,
                action="train",
                subject=f"{NAME} {version}",
                inputs_hash=data_hash,
                as_of=trained_as_of,
                model_version=version,
                outputs={
                    "status": "challenger" if has_champion else "champion",
                    "metrics": info.get("model", {}),
                },
            )
        return self.get(version)

    def list(self) -> list[ModelRecord]:
        cols = model_registry.c
        query = (
            select(*(c for c in model_registry.c if c.name != "artifact"))  # metadata only
            .where(cols.name == NAME)
            .order_by(cols.major.desc(), cols.minor.desc(), cols.patch.desc())
        )
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def get(self, version: str) -> ModelRecord:
        for record in self.list():
            if record.version == version:
                return record
        known = ", ".join(r.version for r in self.list()) or "none"
        raise ValueError(f"no {NAME} version {version!r}; registered: {known}")

    def champion(self) -> ModelRecord | None:
        return next((r for r in self.list() if r.status == "champion"), None)

    def load(self, version: str | None = None) -> tuple[CalibratedModel, ModelRecord]:
        """The champion (or a given version), ready to predict. Raises ModelUnavailable."""
        record = self.champion() if version is None else self.get(version)
        if record is None:
            raise ModelUnavailable("no model has been trained yet")
        cols = model_registry.c
        with self.engine.connect() as conn:
            blob: bytes = conn.execute(
                select(cols.artifact).where(cols.name == NAME, cols.version == record.version)
            ).scalar_one()
        digest = hashlib.sha256(blob).digest()
        with _LOADED_LOCK:
            model = _LOADED.get(digest)
            if model is not None:
                _LOADED.move_to_end(digest)
        if model is None:
            try:
                model = CalibratedModel.from_bytes(bytes(blob))
            except Exception as exc:  # a corrupt artifact must not take scoring down
                raise ModelUnavailable(f"model {record.version} cannot be loaded: {exc}") from exc
            with _LOADED_LOCK:
                _LOADED[digest] = model
                while len(_LOADED) > _LOADED_SIZE:
                    _LOADED.popitem(last=False)
        return model, record

    def promote(self, version: str) -> ModelRecord:
        target = self.get(version)
        cols = model_registry.c
        with self.engine.begin() as conn:
            conn.execute(
                update(model_registry)
                .where(cols.name == NAME, cols.status == "champion")
                .values(status="retired")
            )
            conn.execute(
                update(model_registry)
                .where(cols.name == NAME, cols.version == version)
                .values(status="champion", promoted_at=_now())
            )
            audit.append(
                conn,
                actor=self.actor,
                action="promote",
                subject=f"{NAME} {version}",
                model_version=version,
                outputs={"previous_status": target.status},
            )
        return self.get(version)

    def rollback(self) -> ModelRecord:
        """Make the previously promoted version the champion again."""
        current = self.champion()
        earlier = sorted(
            (
                r
                for r in self.list()
                if r.promoted_at
                and r is not current
                and (current is None or r.version != current.version)
            ),
            key=lambda r: r.promoted_at or datetime.min,
        )
        if not earlier:
            raise ValueError("nothing to roll back to: no earlier champion")
        return self.promote(earlier[-1].version)
