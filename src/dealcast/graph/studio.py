"""Module-level compiled graph for LangGraph Studio / `langgraph dev` (langgraph.json).
Studio supplies its own checkpointer; run settings come from the Context it passes."""

from __future__ import annotations

from dealcast.graph.builder import build_graph

graph = build_graph().compile()
