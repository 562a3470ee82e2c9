"""Run settings of one graph run (LangGraph `context_schema`), read via `runtime.context`.

Secrets never go here: they live in `dealcast.config.Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("rep", "manager", "finance", "admin")


@dataclass(frozen=True)
class Context:
    database_url: str | None = None  # default: Settings.resolved_database_url()
    user_id: str | None = None  # the caller's CRM User Id
    role: str = "rep"  # least privilege unless told otherwise
    as_of: str | None = None  # YYYY-MM-DD[THH:MM]; None = now
    seed: int = 7
    n_sims: int = 2_000  # Monte Carlo draws per forecast (the CLI uses 10,000)
    use_llm: bool = False  # the LLM plans and narrates when one is configured (Settings)
    node_timeout_s: float = 10.0  # per tool call inside a worker node
    # Pause with interrupt() for human review when an answer needs it (low confidence, poor
    # data quality, guardrail block). Off by default: the answer is returned flagged.
    review_interrupt: bool = False
    llm_timeout_s: float = 20.0  # per LLM request (the client's timeout; no client retries)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}; got {self.role!r}")
        if self.node_timeout_s <= 0:
            raise ValueError(f"node_timeout_s must be > 0, got {self.node_timeout_s}")
        if self.llm_timeout_s <= 0:
            raise ValueError(f"llm_timeout_s must be > 0, got {self.llm_timeout_s}")
        if self.n_sims < 100:
            raise ValueError(f"n_sims must be >= 100, got {self.n_sims}")
