"""The latest stored score of each deal, so a forecast can reuse what is already scored.

After an incremental sync only the changed deals are rescored; every other open deal keeps
its latest stored `prediction` row (as of <= T, from the given model version). A forecast
built on these (`inputs.load_inputs(probabilities=...)`) costs a rescore of the changed
deals, not of the whole pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from dealcast.crm.schema import prediction
from dealcast.crm.store import Store

CHUNK = 500  # ids per IN (...) list


def latest_probabilities(
    store: Store,
    as_of: datetime,
    model_version: str,
    deal_ids: Iterable[str] | None = None,
) -> dict[str, float]:
    """{deal id: win probability 0-1} from each deal's latest stored prediction made as of
    <= `as_of` by `model_version` (latest by as_of, then by insertion). Deals never scored
    by that version are absent. `deal_ids` narrows the read."""
    if deal_ids is not None:
        ids = list(deal_ids)
        out: dict[str, float] = {}
        for i in range(0, len(ids), CHUNK):
            out.update(_read(store, as_of, model_version, ids[i : i + CHUNK]))
        return out
    return _read(store, as_of, model_version, None)


def _read(
    store: Store, as_of: datetime, model_version: str, ids: list[str] | None
) -> dict[str, float]:
    ranked = select(
        prediction.c.opportunity_id,
        prediction.c.win_probability,
        func.row_number()
        .over(
            partition_by=prediction.c.opportunity_id,
            order_by=(prediction.c.as_of.desc(), prediction.c.id.desc()),
        )
        .label("rank"),
    ).where(prediction.c.as_of <= as_of, prediction.c.model_version == model_version)
    if ids is not None:
        ranked = ranked.where(prediction.c.opportunity_id.in_(ids))
    latest = ranked.subquery()
    query = select(latest.c.opportunity_id, latest.c.win_probability).where(latest.c.rank == 1)
    with store.engine.connect() as conn:
        return {str(r[0]): float(r[1]) / 100.0 for r in conn.execute(query)}
