"""Forecast accuracy over (forecast, actual) pairs: the numbers a backtest reports.

- WAPE  = Σ|F − A| / ΣA: error in currency, weighted by size (the headline number);
- MAPE  = mean over pairs of |F − A| / A; pairs with A = 0 have no percentage error and are
  left out (`mape_skipped` says how many);
- bias  = Σ(F − A) / ΣA: signed, > 0 means we forecast too much;
- coverage = share of actuals inside [low, high] (both ends included), e.g. P10-P90;
- per-rep accuracy: ΣF ÷ ΣA per rep over all the pairs (1.0 = spot on, < 1 = under-call).

Every ratio is None when its denominator is 0 (no actuals): never a silent 0 or inf.
Pure numpy/pandas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

F64 = npt.NDArray[np.float64]


def _pair(forecast: Any, actual: Any) -> tuple[F64, F64]:
    f = np.asarray(forecast, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if f.shape != a.shape:
        raise ValueError(f"{len(f)} forecasts but {len(a)} actuals")
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(a))):
        raise ValueError("forecasts and actuals must be finite numbers")
    return f, a


def wape(forecast: Any, actual: Any) -> float | None:
    f, a = _pair(forecast, actual)
    total = float(np.sum(np.abs(a)))
    return None if total == 0 else float(np.sum(np.abs(f - a)) / total)


def bias(forecast: Any, actual: Any) -> float | None:
    f, a = _pair(forecast, actual)
    total = float(np.sum(np.abs(a)))
    return None if total == 0 else float(np.sum(f - a) / total)


def mape(forecast: Any, actual: Any) -> tuple[float | None, int]:
    """(MAPE over the pairs with A != 0, how many pairs were skipped for A = 0)."""
    f, a = _pair(forecast, actual)
    keep = a != 0
    skipped = int(np.sum(~keep))
    if not keep.any():
        return None, skipped
    return float(np.mean(np.abs(f[keep] - a[keep]) / np.abs(a[keep]))), skipped


def coverage(actual: Any, low: Any, high: Any) -> float | None:
    """Share of actuals with low <= A <= high; None when there are no pairs."""
    a = np.asarray(actual, dtype=np.float64).ravel()
    lo = np.asarray(low, dtype=np.float64).ravel()
    hi = np.asarray(high, dtype=np.float64).ravel()
    if not (a.shape == lo.shape == hi.shape):
        raise ValueError("actual, low and high differ in length")
    if np.any(lo > hi):
        raise ValueError("an interval has low > high")
    if len(a) == 0:
        return None
    return float(np.mean((a >= lo) & (a <= hi)))


@dataclass(frozen=True)
class Accuracy:
    n: int
    forecast_total: float
    actual_total: float
    wape: float | None
    mape: float | None
    mape_skipped: int  # pairs with actual 0, left out of MAPE
    bias: float | None
    coverage: float | None = None  # None: the method has no interval

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(forecast: Any, actual: Any, low: Any = None, high: Any = None) -> Accuracy:
    """All pair metrics at once; `low`/`high` (both or neither) add interval coverage."""
    f, a = _pair(forecast, actual)
    if (low is None) != (high is None):
        raise ValueError("give both ends of the interval or neither")
    m, skipped = mape(f, a)
    return Accuracy(
        n=len(f),
        forecast_total=float(f.sum()),
        actual_total=float(a.sum()),
        wape=wape(f, a),
        mape=m,
        mape_skipped=skipped,
        bias=bias(f, a),
        coverage=None if low is None else coverage(a, low, high),
    )


def per_rep(frame: pd.DataFrame, rep: str = "owner_id") -> pd.DataFrame:
    """Per rep over all its (forecast, actual) rows: columns rep, periods, forecast, actual,
    ratio = ΣF ÷ ΣA (None without actuals), wape (None likewise). Rows missing on one side
    should be passed as 0 (a rep forecast to sell nothing who sold, or the reverse).
    Sorted by actual, largest first."""
    missing = {rep, "forecast", "actual"} - set(frame.columns)
    if missing:
        raise ValueError(f"per_rep needs columns {sorted(missing)}")
    data = frame[[rep, "forecast", "actual"]].astype({"forecast": float, "actual": float})
    data = data.assign(abs_error=(data["forecast"] - data["actual"]).abs())
    grouped = data.groupby(rep, sort=True).agg(
        periods=("forecast", "size"),
        forecast=("forecast", "sum"),
        actual=("actual", "sum"),
        abs_error=("abs_error", "sum"),
    )
    has_actual = grouped["actual"] != 0
    safe = grouped["actual"].where(has_actual, 1.0)
    ratio = (grouped["forecast"] / safe).astype(object).where(has_actual, None)
    error = (grouped["abs_error"] / safe).astype(object).where(has_actual, None)
    out = pd.DataFrame(
        {
            rep: grouped.index,
            "periods": grouped["periods"].to_numpy(int),
            "forecast": grouped["forecast"].to_numpy(float),
            "actual": grouped["actual"].to_numpy(float),
            "ratio": ratio.to_numpy(),
            "wape": error.to_numpy(),
        }
    )
    return out.sort_values(["actual", rep], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def per_rep_summary(reps: pd.DataFrame, band: float = 0.2) -> dict[str, Any]:
    """Median ratio and the share of reps (with actuals) whose ratio is within ±band of 1."""
    ratios = pd.to_numeric(reps["ratio"], errors="coerce").dropna().to_numpy(float)
    return {
        "reps": len(reps),
        "reps_with_actuals": len(ratios),
        "median_ratio": float(np.median(ratios)) if len(ratios) else None,
        "band": band,
        "share_within_band": float(np.mean(np.abs(ratios - 1) <= band)) if len(ratios) else None,
    }
