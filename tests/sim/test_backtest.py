"""Backtests on the small demo org: hand-checked baselines and actuals, storage, audit, the
CLI, and point-in-time safety (a backtest at D is the same whether or not later data exists)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from sqlalchemy import bindparam, delete, update
from typer.testing import CliRunner

from dealcast.cli_backtest import cmd_backtest
from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.store import Store
from dealcast.sim import accuracy
from dealcast.sim.backtest import (
    CALIBRATED_ON,
    backtest,
    get_run,
    list_runs,
    snapshot_periods,
)
from dealcast.sim.interval_calibration import PastPeriod, fit_scale
from dealcast.sim.walkforward import instant_before
from tests.demo_org import DemoOrg, copy_store

OPP_STATE = [
    "StageName",
    "Amount",
    "CloseDate",
    "Probability",
    "ForecastCategoryName",
    "IsClosed",
    "IsWon",
    "NextStep",
    "LastModifiedDate",
    "SystemModstamp",
    "LastActivityDate",
]
DATE_COLUMNS = ("CloseDate", "LastActivityDate")


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def cut_store(store: Store, t: datetime, target: Path) -> Store:
    """The store as an export taken at T would have made it: every row created after T is
    deleted and each remaining opportunity's own fields are set to their values at T, so
    nothing in it says what happened after T."""
    state = store.as_of(t).opportunities()
    cut = copy_store(store, target)
    rows = []
    for record in state.to_dict(orient="records"):
        row = {"_id": record["Id"], **{c: _plain(record[c]) for c in OPP_STATE}}
        for col in DATE_COLUMNS:
            if isinstance(row[col], datetime):
                row[col] = row[col].date()
        rows.append(row)
    opp = CRM_TABLES["Opportunity"]
    with cut.engine.begin() as conn:
        for table in CRM_TABLES.values():
            if "CreatedDate" in table.c:
                conn.execute(delete(table).where(table.c.CreatedDate > t))
        conn.execute(
            update(opp)
            .where(opp.c.Id == bindparam("_id"))
            .values({c: bindparam(c) for c in OPP_STATE}),
            rows,
        )
    return cut


@pytest.fixture
def store(demo_org: DemoOrg, tmp_path: Path) -> Store:
    return copy_store(demo_org.store, tmp_path / "b.db")


def test_snapshot_periods_are_the_period_starts_inside_the_range() -> None:
    months = snapshot_periods("2026-01-15", "2026-04-01", "month")
    assert [p.label for p in months] == ["2026-02", "2026-03", "2026-04"]
    quarters = snapshot_periods("2025-01-01", "2025-12-31", "quarter")
    assert [p.start for p in quarters] == [date(2025, m, 1) for m in (1, 4, 7, 10)]
    with pytest.raises(ValueError, match="before"):
        snapshot_periods("2026-02-01", "2026-01-01", "month")
    with pytest.raises(ValueError, match="no month starts"):
        snapshot_periods("2026-02-02", "2026-02-20", "month")
    with pytest.raises(ValueError, match="not one of"):
        snapshot_periods("2026-01-01", "2026-02-01", "week")


def test_monthly_backtest_matches_hand_computed_actuals_and_baselines(
    store: Store, demo_org: DemoOrg
) -> None:
    result = backtest(
        store,
        "2026-04-01",
        "2026-05-01",
        "month",
        scorer="stage",
        n_sims=500,
        actor="tester",
        actuals_as_of=demo_org.as_of,
    )
    assert [r["period"] for r in result.rows] == ["2026-04", "2026-05"]
    final = store.as_of(demo_org.as_of).opportunities()
    won = final[final["IsWon"]]
    for row in result.rows:
        start = date.fromisoformat(row["start"])
        end = date.fromisoformat(row["end"])
        t = instant_before(start)
        assert row["as_of"] == f"{start - timedelta(days=1)}T23:59:59.999999" == t.isoformat()
        closed = won["ClosedAt"].dt.date
        assert row["actual"] == pytest.approx(
            won.loc[(closed >= start) & (closed <= end), "Amount"].sum()
        )
        assert row["actual"] > 0
        at_t = store.as_of(t)
        open_deals = at_t.open_opportunities()
        stated = pd.to_datetime(open_deals["CloseDate"]).dt.date
        inside = (stated >= start) & (stated <= end)
        f = row["forecast"]
        assert f["stage_weighted"] == pytest.approx(
            (open_deals["Probability"] / 100 * open_deals["Amount"].fillna(0))[inside].sum()
        )
        commit = inside & (open_deals["ForecastCategoryName"] == "Commit")
        assert f["commit"] == pytest.approx(open_deals.loc[commit, "Amount"].sum())
        known = at_t.opportunities()
        known_won = known[known["IsWon"]]
        yoy = known_won["ClosedAt"].dt.date
        a_year_ago = (yoy >= start.replace(year=start.year - 1)) & (
            yoy <= end.replace(year=end.year - 1)
        )
        assert f["seasonal_naive_yoy"] == pytest.approx(known_won.loc[a_year_ago, "Amount"].sum())
        prev = date(start.year, start.month - 3, 1)
        prev_q = (yoy >= prev) & (yoy < date(start.year, start.month - 2, 1))
        assert f["seasonal_naive_prev_quarter"] == pytest.approx(
            known_won.loc[prev_q, "Amount"].sum()
        )
        assert row["open_deals"] == len(open_deals)
        assert row["interval"]["low"] <= f["ours_p50"] <= row["interval"]["high"]
        assert row["inside"] == (row["interval"]["low"] <= row["actual"] <= row["interval"]["high"])
        # per-owner rows add up to the totals on both sides
        assert sum(o["actual"] for o in row["by_owner"]) == pytest.approx(row["actual"])
        assert sum(o["forecast"] for o in row["by_owner"]) == pytest.approx(f["ours"])

    methods = result.summary["methods"]
    actual = [r["actual"] for r in result.rows]
    for name in ("ours", "stage_weighted", "commit", "seasonal_naive_prev_quarter"):
        f = [r["forecast"][name] for r in result.rows]
        assert methods[name]["wape"] == pytest.approx(accuracy.wape(f, actual))
        assert methods[name]["bias"] == pytest.approx(accuracy.bias(f, actual))
    inside = [r["inside"] for r in result.rows]
    assert methods["ours"]["coverage"] == pytest.approx(sum(inside) / len(inside))
    assert methods["stage_weighted"]["coverage"] is None  # baselines have no interval
    assert result.summary["scorers_used"] == ["stage"]

    # stored, listed and audited
    assert result.run_id is not None
    (listed,) = list_runs(store)
    assert listed["id"] == result.run_id and listed["scorer"] == "stage"
    assert listed["wape"]["ours"] == pytest.approx(methods["ours"]["wape"])
    stored = get_run(store, result.run_id)
    assert [r["period"] for r in stored["rows"]] == ["2026-04", "2026-05"]
    entry = store.audit_entries(action="backtest")[0]
    assert entry.actor == "tester" and "2026-04-01" in entry.subject
    assert store.verify_audit().ok


def test_unfinished_periods_are_skipped_and_listed(store: Store, demo_org: DemoOrg) -> None:
    result = backtest(
        store,
        "2026-05-01",
        "2026-06-01",
        "month",
        scorer="stage",
        n_sims=200,
        actuals_as_of=datetime(2026, 6, 20, 12, 0),
        record=False,
    )
    assert [r["period"] for r in result.rows] == ["2026-05"]
    assert result.summary["skipped_incomplete"] == ["2026-06"]
    assert result.run_id is None and list_runs(store) == []
    with pytest.raises(ValueError, match="nothing to compare"):
        backtest(store, "2026-06-01", "2026-06-01", "month", scorer="stage", n_sims=200,
                 actuals_as_of=datetime(2026, 6, 20), record=False)  # fmt: skip
    with pytest.raises(ValueError, match="scorer"):
        backtest(store, "2026-05-01", "2026-05-01", "month", scorer="magic", record=False)


def test_a_backtest_at_d_ignores_everything_after_d(
    store: Store, demo_org: DemoOrg, tmp_path: Path
) -> None:
    """Same forecast, baselines and inputs at D from the full store and from a store cut at
    D (stage scorer: the walk-forward model's own leakage test is in test_walkforward)."""
    days = [date(2026, 3, 1), date(2026, 4, 1)]
    t = instant_before(days[-1])
    cut = cut_store(store, t, tmp_path / "cut.db")
    # the cut really removed the future: fewer deals, none won in April
    assert len(cut.as_of(demo_org.as_of).opportunities()) < len(
        store.as_of(demo_org.as_of).opportunities()
    )
    runs = [
        backtest(
            s,
            days[0],
            days[-1],
            "month",
            scorer="stage",
            n_sims=500,
            actuals_as_of=demo_org.as_of,
            record=False,
        )
        for s in (store, cut)
    ]
    full, past = runs[0].rows[-1], runs[1].rows[-1]
    assert past["actual"] == 0 < full["actual"]
    assert runs[0].rows[0]["actual"] == runs[1].rows[0]["actual"] > 0  # March: all before D
    for a, b in zip(runs[0].rows, runs[1].rows, strict=True):
        for key in ("as_of", "open_deals", "forecast", "interval", "model_version"):
            assert a[key] == b[key], (a["period"], key)


def test_cli_json_and_table(store: Store, demo_org: DemoOrg) -> None:
    app = typer.Typer()
    app.command()(cmd_backtest)
    db = str(store.engine.url.database)
    runner = CliRunner()
    args = ["--from", "2026-05-01", "--to", "2026-05-01", "--period", "month"]
    args += ["--scorer", "stage", "--sims", "200", "--db", db]
    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert [r["period"] for r in payload["rows"]] == ["2026-05"]
    assert "wape" in payload["summary"]["methods"]["ours"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "stage_weighted" in res.stdout and "2026-05" in res.stdout
    res = runner.invoke(app, ["--list", "--db", db, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["runs"]) == 2
    # dealcast.cli.main maps a ValueError to exit code 2 with its message
    bad = runner.invoke(app, ["--from", "2026-05-01", "--period", "week", "--db", db])
    assert isinstance(bad.exception, ValueError) and "not one of" in str(bad.exception)
    bad = runner.invoke(app, ["--period", "month", "--db", db])
    assert isinstance(bad.exception, ValueError) and "--from" in str(bad.exception)


def test_intervals_are_widened_only_by_earlier_periods_known_at_each_snapshot(
    store: Store, demo_org: DemoOrg
) -> None:
    result = backtest(
        store, "2025-12-01", "2026-05-01", "month", scorer="stage", n_sims=500,
        actuals_as_of=demo_org.as_of, record=False, warmup=0,
    )  # fmt: skip
    rows = result.rows
    assert result.summary["warmup_periods"] == []
    assert [r["interval_calibration"] for r in rows[:4]] == [None] * 4  # < 4 periods over
    for i, row in enumerate(rows[4:], start=4):
        t = datetime.fromisoformat(row["as_of"])
        known = store.as_of(t).opportunities()
        won = known[known["IsWon"]]
        past = []
        for r in rows[:i]:
            days = won["ClosedAt"].dt.date
            inside = (days >= date.fromisoformat(r["start"])) & (
                days <= date.fromisoformat(r["end"])
            )
            raw = r["interval_raw"]
            past.append(
                PastPeriod(
                    r["forecast"]["ours"], raw["low"], raw["high"], won.loc[inside, "Amount"].sum()
                )
            )
        expected = fit_scale(past, 0.8, CALIBRATED_ON)
        assert expected is not None and row["interval_calibration"] == expected.as_dict()
        raw, interval, ours = row["interval_raw"], row["interval"], row["forecast"]["ours"]
        assert interval["high"] - ours == pytest.approx(expected.factor * (raw["high"] - ours))
        assert row["inside"] == (interval["low"] <= row["actual"] <= interval["high"])


def test_a_warm_up_before_the_first_snapshot_calibrates_it_and_is_not_scored(
    store: Store, demo_org: DemoOrg
) -> None:
    kwargs: dict[str, Any] = {"scorer": "stage", "n_sims": 500, "record": False}
    warm = backtest(store, "2026-03-01", "2026-05-01", "month", actuals_as_of=demo_org.as_of,
                    **kwargs)  # fmt: skip
    assert warm.summary["warmup_periods"] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert [r["period"] for r in warm.rows] == ["2026-03", "2026-04", "2026-05"]
    assert warm.summary["periods"] == 3  # the warm-up is not scored
    first = warm.rows[0]["interval_calibration"]
    assert first is not None and first["periods"] == 4
    # the same as the rows of a longer run without a warm-up, from the same snapshots
    long = backtest(store, "2025-11-01", "2026-05-01", "month", actuals_as_of=demo_org.as_of,
                    warmup=0, **kwargs)  # fmt: skip
    assert long.rows[4]["period"] == "2026-03"
    assert long.rows[4]["interval_calibration"] == first
    assert long.rows[4]["interval"] == warm.rows[0]["interval"]
