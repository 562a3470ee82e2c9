"""Point-in-time view: the CRM exactly as it stood at an instant T.

Training, features and backtests read the CRM only through `Snapshot`. Rules:
- A row exists at T when its CreatedDate <= T (emails also need MessageDate <= T);
  deleted rows (IsDeleted) are treated as never having existed.
- An opportunity's stage, amount, close date, probability and forecast category at T come
  from its last OpportunityHistory row at or before T. When it has none, its current values
  are used only if it was last modified at or before T (`PitSource == "current"`);
  otherwise they are used but marked `PitSource == "unverified"` so callers can drop them.
- IsClosed/IsWon follow the stage at T; NextStep (which has no history) is hidden when the
  opportunity changed after T; LastActivityDate is recomputed from activities known at T.
- Salesforce keeps no history of activity edits. We assume notes are written when the
  activity happens, so a task or meeting dated after T is visible (it was planned) but its
  Description and Status are hidden.
- Contacts are deduplicated: references to a duplicate point at its canonical contact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, Table, func, select, union_all

from dealcast.crm.frames import IN_CHUNK, read_frame, read_in_chunks
from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.stages import StageConfig

# OpportunityHistory.ForecastCategory holds API values; Opportunity.ForecastCategoryName
# holds labels. Exports carry either, depending on the tool: normalise to the labels.
FORECAST_CATEGORY_LABELS = {
    "BestCase": "Best Case",
    "Forecast": "Commit",
    "MostLikely": "Most Likely",
}

Join = Callable[[Select[Any], Table], Select[Any]]

STATE_FIELDS = {  # Opportunity field -> OpportunityHistory field
    "StageName": "StageName",
    "Amount": "Amount",
    "CloseDate": "CloseDate",
    "Probability": "Probability",
    "ForecastCategoryName": "ForecastCategory",
}


def as_of_instant(value: datetime | date | str) -> datetime:
    """Normalise an as-of value to naive UTC. A bare date means the end of that day (UTC):
    everything that happened on it is known."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(
                f"as-of {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 datetime"
            ) from exc
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime.combine(value, time.max)


def _visible(table: Table, t: datetime, columns: Sequence[str] | None) -> Any:
    cols = [table.c[c] for c in columns] if columns else list(table.c)
    cols = [c for c in cols if not c.name.startswith("_")]
    return select(*cols).where(table.c.CreatedDate <= t, table.c.IsDeleted.is_(False))


class Snapshot:
    """The store as of `as_of`. Frames are read on demand; each call re-reads, except the
    stage history, which `opportunities()` also needs and is read once per snapshot."""

    def __init__(
        self,
        engine: Engine,
        as_of: datetime | date | str,
        stages: StageConfig,
        opportunity_ids: Iterable[str] | None = None,
    ) -> None:
        self.engine = engine
        self.as_of = as_of_instant(as_of)
        self.stages = stages
        self.opportunity_ids = None if opportunity_ids is None else sorted(set(opportunity_ids))
        self._history: pd.DataFrame | None = None

    # ---- opportunities -------------------------------------------------------------
    def opportunities(self, last_activity: bool = True) -> pd.DataFrame:
        """Every opportunity that existed at T, with its state at T. Without `last_activity`,
        LastActivityDate stays empty (it costs a pass over the deals' tasks and events)."""
        t = self.as_of
        opp_t = CRM_TABLES["Opportunity"]
        last = pd.Series(dtype="datetime64[ns]")
        with self.engine.connect() as conn:
            opps = read_in_chunks(conn, opp_t, _visible(opp_t, t, None), "Id", self.opportunity_ids)
            if last_activity:
                last = self._last_activity(conn)
        hist = self.history()
        hist = hist[hist["OpportunityId"].isin(opps["Id"])]
        return self._apply_history(opps, hist, last)

    def open_opportunities(self, last_activity: bool = True) -> pd.DataFrame:
        opps = self.opportunities(last_activity=last_activity)
        return opps[~opps["IsClosed"]].reset_index(drop=True)

    def _apply_history(
        self, opps: pd.DataFrame, hist: pd.DataFrame, last_activity: pd.Series
    ) -> pd.DataFrame:
        t = pd.Timestamp(self.as_of)
        hist = hist.sort_values(["OpportunityId", "CreatedDate", "Id"], kind="stable")
        new_run = (hist["StageName"] != hist["StageName"].shift()) | (
            hist["OpportunityId"] != hist["OpportunityId"].shift()
        )
        hist = hist.assign(StageEnteredAt=hist["CreatedDate"].where(new_run).ffill())
        last = hist.groupby("OpportunityId", sort=False).tail(1).set_index("OpportunityId")

        out = opps.set_index("Id")
        has_hist = out.index.isin(last.index)
        changed_after = out["LastModifiedDate"].isna() | (out["LastModifiedDate"] > t)
        for opp_field, hist_field in STATE_FIELDS.items():
            from_hist = last[hist_field].reindex(out.index)
            out[opp_field] = from_hist.where(has_hist, out[opp_field])
        out["PitSource"] = np.where(
            has_hist, "history", np.where(changed_after, "unverified", "current")
        )
        last_change = last["CreatedDate"].reindex(out.index)
        out["StageEnteredAt"] = last["StageEnteredAt"].reindex(out.index).fillna(out["CreatedDate"])
        out["LastModifiedDate"] = out["LastModifiedDate"].where(
            ~changed_after, last_change.fillna(out["CreatedDate"])
        )
        out["SystemModstamp"] = out["LastModifiedDate"]
        out["NextStep"] = out["NextStep"].where(~changed_after, None)
        out["LastActivityDate"] = last_activity.reindex(out.index)
        self._derive_stage_fields(out)
        return out.reset_index(names="Id")

    def _derive_stage_fields(self, out: pd.DataFrame) -> None:
        unknown = sorted(set(out["StageName"]) - set(self.stages.names))
        if unknown:
            raise ValueError(
                f"stages {unknown} are not in the configured stage set "
                f"({', '.join(self.stages.names)}); set DEALCAST_STAGES_FILE"
            )
        by_name = {s.name: s for s in self.stages.stages}
        stage = out["StageName"].map(by_name)
        out["IsClosed"] = stage.map(lambda s: s.is_closed).astype(bool)
        out["IsWon"] = stage.map(lambda s: s.is_won).astype(bool)
        out["Probability"] = out["Probability"].fillna(stage.map(lambda s: s.probability))
        out["ForecastCategoryName"] = (
            out["ForecastCategoryName"]
            .replace(FORECAST_CATEGORY_LABELS)
            .fillna(stage.map(lambda s: s.forecast_category))
        )
        out["ClosedAt"] = out["StageEnteredAt"].where(out["IsClosed"])

    def _last_activity(self, conn: Any) -> pd.Series:
        ids = self.opportunity_ids
        chunks = (
            [None] if ids is None else [ids[i : i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK)]
        )
        rows = [r for chunk in chunks for r in conn.execute(self._last_activity_query(chunk))]
        series = pd.Series({r[0]: r[1] for r in rows}, dtype=object)
        return pd.to_datetime(series).astype("datetime64[ns]")

    def _last_activity_query(self, ids: list[str] | None) -> Any:
        t, day = self.as_of, pd.Timestamp(self.as_of).normalize().date()
        parts = []
        for name in ("Task", "Event"):
            tab = CRM_TABLES[name]
            # the id filter sits inside each branch so the WhatId index is used
            scope = tab.c.WhatId.like("006%") if ids is None else tab.c.WhatId.in_(ids)
            parts.append(
                select(
                    tab.c.WhatId.label("WhatId"), tab.c.ActivityDate.label("ActivityDate")
                ).where(
                    tab.c.CreatedDate <= t,
                    tab.c.IsDeleted.is_(False),
                    tab.c.ActivityDate <= day,
                    scope,
                )
            )
        acts = union_all(*parts).subquery()
        query = select(acts.c.WhatId, func.max(acts.c.ActivityDate).label("ActivityDate"))
        return query.group_by(acts.c.WhatId)

    def history(self) -> pd.DataFrame:
        """OpportunityHistory rows known at T, oldest first per opportunity."""
        if self._history is None:
            tab = CRM_TABLES["OpportunityHistory"]
            with self.engine.connect() as conn:
                frame = read_in_chunks(
                    conn,
                    tab,
                    _visible(tab, self.as_of, None),
                    "OpportunityId",
                    self.opportunity_ids,
                )
            self._history = frame.sort_values(["OpportunityId", "CreatedDate", "Id"]).reset_index(
                drop=True
            )
        return self._history.copy()

    # ---- people --------------------------------------------------------------------
    def users(self) -> pd.DataFrame:
        tab = CRM_TABLES["User"]
        cols = [c for c in tab.c if not c.name.startswith("_")]
        with self.engine.connect() as conn:
            return read_frame(conn, tab, select(*cols).where(tab.c.IsDeleted.is_(False)))

    def accounts(self) -> pd.DataFrame:
        tab = CRM_TABLES["Account"]
        with self.engine.connect() as conn:
            return read_frame(conn, tab, _visible(tab, self.as_of, None))

    def contacts(self) -> pd.DataFrame:
        """Canonical contacts known at T (duplicates by email are folded into them)."""
        tab = CRM_TABLES["Contact"]
        query = _visible(tab, self.as_of, None).where(tab.c.CanonicalId == tab.c.Id)
        with self.engine.connect() as conn:
            return read_frame(conn, tab, query)

    def contact_roles(self) -> pd.DataFrame:
        tab = CRM_TABLES["OpportunityContactRole"]
        with self.engine.connect() as conn:
            frame = read_in_chunks(
                conn, tab, _visible(tab, self.as_of, None), "OpportunityId", self.opportunity_ids
            )
            return self._canonical(conn, frame, "ContactId")

    # ---- activities ----------------------------------------------------------------
    # `join` (optional) adds columns from other tables to each row, e.g. values cached by
    # row: it gets the query and the table and returns the query (outer joins only).
    def tasks(self, columns: Sequence[str] | None = None, join: Join | None = None) -> pd.DataFrame:
        return self._activities("Task", columns, join)

    def events(
        self, columns: Sequence[str] | None = None, join: Join | None = None
    ) -> pd.DataFrame:
        return self._activities("Event", columns, join)

    def emails(
        self, columns: Sequence[str] | None = None, join: Join | None = None
    ) -> pd.DataFrame:
        return self._activities("EmailMessage", columns, join)

    def activity_query(self, name: str, columns: Sequence[str] | None = None) -> Select[Any]:
        """Rows of the activity table `name` (Task, Event, EmailMessage) that exist at T: the
        visibility rules every read of activities shares (callers may swap the columns for
        aggregates with `with_only_columns`)."""
        tab = CRM_TABLES[name]
        query = _visible(tab, self.as_of, columns)
        if name == "EmailMessage":
            query = query.where((tab.c.MessageDate <= self.as_of) | tab.c.MessageDate.is_(None))
        return query

    def read_activities(self, name: str, query: Select[Any]) -> pd.DataFrame:
        """`query` (from `activity_query`) over this snapshot's deals, with WhoId (when
        selected) pointing at canonical contacts."""
        tab = CRM_TABLES[name]
        deal = "RelatedToId" if name == "EmailMessage" else "WhatId"
        with self.engine.connect() as conn:
            frame = read_in_chunks(conn, tab, query, deal, self.opportunity_ids)
            if "WhoId" in frame:
                frame = self._canonical(conn, frame, "WhoId")
        return frame

    def _activities(
        self, name: str, columns: Sequence[str] | None, join: Join | None
    ) -> pd.DataFrame:
        query = self.activity_query(name, columns)
        frame = self.read_activities(name, join(query, CRM_TABLES[name]) if join else query)
        if name != "EmailMessage":
            self._hide_future_notes(frame, name)
        return frame

    def _hide_future_notes(self, frame: pd.DataFrame, name: str) -> None:
        future = self.notes_hidden(frame, name)
        for col in ("Description", "Status"):
            if col in frame:
                frame[col] = frame[col].where(~future, None)

    def notes_hidden(self, frame: pd.DataFrame, name: str) -> pd.Series:
        """Per row of a Task or Event frame: is it dated after T, so its Description and
        Status are hidden? (Needs StartDateTime for events, else ActivityDate.)"""
        if name == "Event" and "StartDateTime" in frame:
            return frame["StartDateTime"] > pd.Timestamp(self.as_of)
        if name in ("Task", "Event") and "ActivityDate" in frame:
            return frame["ActivityDate"] > pd.Timestamp(self.as_of).normalize()
        return pd.Series(False, index=frame.index)

    def _canonical(self, conn: Any, frame: pd.DataFrame, column: str) -> pd.DataFrame:
        tab = CRM_TABLES["Contact"]
        query = select(tab.c.Id, tab.c.CanonicalId).where(tab.c.CanonicalId != tab.c.Id)
        aliases: dict[str, str] = {}
        if self.opportunity_ids is None:
            aliases = dict(conn.execute(query).all())
        else:  # a few deals: look up only the contacts they reference (by primary key)
            refs = sorted(pd.unique(frame[column].dropna()))
            for i in range(0, len(refs), IN_CHUNK):
                aliases.update(
                    conn.execute(query.where(tab.c.Id.in_(refs[i : i + IN_CHUNK]))).all()
                )
        if aliases:
            values = frame[column]
            frame[column] = values.map(aliases).where(values.isin(aliases.keys()), values)
        return frame
