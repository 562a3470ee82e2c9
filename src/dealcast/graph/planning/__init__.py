"""The deterministic planner's helpers: text normalisation, periods, deal and rep
resolution, scenarios, intents and plan building (no LLM, no I/O)."""
