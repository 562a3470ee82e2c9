"""Thin `@tool` wrappers over the ml/, risk/ and sim/ functions (their docstrings are what
the model reads). Store and as-of time are injected arguments the model never sees; each
`*_impl` function is the plain call the deterministic graph nodes make."""

from __future__ import annotations

from dealcast.tools.deals import list_deals, score_deals
from dealcast.tools.forecast import forecast_period, what_changed, what_if
from dealcast.tools.ingestion import data_freshness
from dealcast.tools.risks import deal_risks

TOOLS = [
    data_freshness,
    score_deals,
    list_deals,
    deal_risks,
    forecast_period,
    what_if,
    what_changed,
]

__all__ = [
    "TOOLS",
    "data_freshness",
    "deal_risks",
    "forecast_period",
    "list_deals",
    "score_deals",
    "what_changed",
    "what_if",
]
