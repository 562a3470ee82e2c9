"""The chat agent: a LangGraph `StateGraph` (planner -> parallel tool workers -> answer ->
evaluator -> guardrail). `builder.build_graph()` returns it uncompiled; callers compile it
with their own checkpointer (`checkpoint.open_checkpointer`)."""
