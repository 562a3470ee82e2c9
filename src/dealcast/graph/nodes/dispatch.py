"""dispatch: the barrier after the planner and after each wave of workers; the routing
function on its edge (`routing.route_ready`) decides what runs next."""

from __future__ import annotations

from typing import Any

from dealcast.graph.state import AgentState


def dispatch(state: AgentState) -> dict[str, Any]:
    return {}
