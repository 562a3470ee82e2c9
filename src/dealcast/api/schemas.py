"""Request and response models of the HTTP API (what OpenAPI documents)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dealcast.api import freshness
from dealcast.crm.pit import as_of_instant
from dealcast.sim.pipeline import MAX_PERIODS
from dealcast.sim.scenario_changes import Op

PeriodKind = Literal["week", "month", "quarter"]
MAX_SIMS = 100_000


def _check_as_of(value: str | None) -> str | None:
    if value is not None and value.strip():
        as_of_instant(value)  # ValueError -> 422 naming the field
        return value.strip()
    return None


# ---- data freshness (every answer about the data carries it) --------------------------------


def _data_stale() -> bool | None:
    status = freshness.current()
    return None if status is None else status.stale


def _data_as_of() -> datetime | None:
    status = freshness.current()
    return None if status is None else status.as_of


class DataFreshness(BaseModel):
    """Filled from the request's freshness status (`api.freshness`; None outside a request):
    the same values as the X-Data-Stale and X-Data-As-Of headers."""

    data_stale: bool | None = Field(
        default_factory=_data_stale,
        description="The CRM data is older than allowed (e.g. Salesforce unreachable for an "
        "hour): the answer comes from the cached store.",
    )
    data_as_of: datetime | None = Field(
        default_factory=_data_as_of, description="When the CRM data was last synced or imported."
    )


# ---- health --------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="Each check: 'ok' or what is wrong.")
    migration: str | None = Field(None, description="The database's migration revision.")
    model_version: str | None = Field(None, description="The champion model, or 'rules'.")
    alerts: list[str] = Field(
        [], description="Stale data, a failed sync, data quality below 90 (not a failed check)."
    )


# ---- deals ---------------------------------------------------------------------------------


class DealSummary(BaseModel):
    id: str
    name: str
    account: str | None = None
    owner_id: str | None = None
    owner: str | None = None
    stage: str
    amount: float | None = None
    close_date: date | None = None
    category: str | None = None
    win_probability: float | None = Field(None, description="Calibrated, 0-100.")
    confidence: float | None = Field(None, description="0-100.")
    needs_review: bool | None = None
    model_version: str | None = None
    scored_as_of: datetime | None = Field(None, description="The instant the score describes.")
    risk_codes: list[str] | None = Field(
        None, description="The deal's risk codes; computed only when filtering by risk."
    )


class DealList(DataFreshness):
    as_of: datetime
    total: int = Field(description="Deals matching the filters (before paging).")
    limit: int
    offset: int
    scored_on_demand: int = Field(description="Deals scored for this request (no fresh score).")
    deals: list[DealSummary]


class Factor(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str
    impact_pts: float | None = None
    feature: str | None = None


class EvidenceOut(BaseModel):
    kind: str
    id: str
    date: datetime | None = None
    quote: str = ""


class RiskOut(BaseModel):
    code: str
    severity: str
    message: str
    evidence: list[EvidenceOut] = []


class ActionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    action: str
    text: str
    expected_change_pts: float | None = None


class DealScoreOut(BaseModel):
    win_probability: float
    confidence: float
    needs_review: bool
    model_version: str
    stale: bool = False
    imputed: list[str] = []
    confidence_factors: dict[str, float] = {}


class DealDetail(DataFreshness):
    deal: DealSummary
    as_of: datetime
    score: DealScoreOut
    top_factors: list[Factor]
    risks: list[RiskOut]
    next_best_actions: list[ActionOut]
    actions_source: Literal["model", "playbook"] | None = Field(
        None, description="model: gains measured by re-scoring; playbook: from the risks."
    )


# ---- forecasts and scenarios ---------------------------------------------------------------


class ForecastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: PeriodKind
    periods: int = Field(1, ge=1, le=MAX_PERIODS, description="This period and the next N-1.")
    seed: int = Field(7, description="Same seed + same data = same forecast.")
    n_sims: int = Field(10_000, ge=100, le=MAX_SIMS, description="Monte Carlo draws.")
    as_of: str | None = Field(None, description="YYYY-MM-DD (end of day UTC) or ISO datetime.")
    new_pipeline: bool = Field(True, description="Add bookings from deals not created yet.")

    _as_of = field_validator("as_of")(_check_as_of)


class PeriodForecast(BaseModel):
    """One period; `by_owner`/`by_manager` hold only the rows the caller may see."""

    model_config = ConfigDict(extra="allow")
    period: str
    start: date
    end: date
    expected: float
    closed_won: float
    deterministic: float
    p10: float | None = None
    p50: float | None = None
    p90: float | None = None
    unreliable: bool = False
    by_owner: list[dict[str, Any]] = []
    by_manager: list[dict[str, Any]] = []


class ForecastOut(DataFreshness):
    model_config = ConfigDict(extra="allow")
    as_of: datetime
    period_kind: str
    seed: int
    n_sims: int
    model_version: str
    open_deals: int
    periods: list[PeriodForecast]


class ForecastHistory(DataFreshness):
    model_config = ConfigDict(extra="allow")
    period: str
    start: date
    end: date
    forecasts: list[dict[str, Any]]
    calls: list[dict[str, Any]] = Field(description="Human calls the caller may see.")
    timeline: list[dict[str, Any]]
    current: list[dict[str, Any]]


class ScenarioChange(BaseModel):
    """One what-if change (see `dealcast.sim.scenario_changes` for each op's fields)."""

    model_config = ConfigDict(extra="forbid")
    op: Op
    deal: str | None = Field(None, description="Deal Id or exact name (remove/move/amount/...).")
    name: str | None = Field(None, description="add: the hypothetical deal's name.")
    amount: float | None = Field(None, ge=0)
    close_date: date | None = None
    stage: str | None = None
    probability: float | None = Field(None, ge=0, le=1, description="0-1.")
    owner: str | None = Field(None, description="User Id or name.")
    category: str | None = None

    def as_change(self) -> dict[str, Any]:
        out = self.model_dump(exclude_none=True)
        if "close_date" in out:
            out["close_date"] = out["close_date"].isoformat()
        return out


class ScenarioRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=120)
    changes: list[ScenarioChange] = Field(min_length=1)
    period: PeriodKind = "quarter"
    periods: int = Field(1, ge=1, le=MAX_PERIODS)
    seed: int = 7
    n_sims: int = Field(10_000, ge=100, le=MAX_SIMS)
    as_of: str | None = None

    _as_of = field_validator("as_of")(_check_as_of)


class ScenarioOut(DataFreshness):
    model_config = ConfigDict(extra="allow")
    name: str
    as_of: datetime
    changes: list[dict[str, Any]]
    baseline: ForecastOut
    scenario: ForecastOut
    deltas: list[dict[str, Any]]
    drivers: list[dict[str, Any]] = Field(description="Deals behind the difference you may see.")


# ---- audit ---------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    seq: int
    recorded_at: datetime
    actor: str
    action: str
    subject: str
    as_of: datetime | None = None
    inputs_hash: str | None = None
    outputs: dict[str, Any]
    model_version: str | None = None
    prev_hash: str
    entry_hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Pass as offset for the next page.")
