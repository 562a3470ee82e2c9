"""Settings from the environment (prefix `DEALCAST_`) and `.env`; secrets live here only."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".dealcast")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEALCAST_", env_file=".env", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the embedded store lives.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: an SQLite file in data_dir."
    )
    stages_file: Path | None = Field(None, description="YAML stage set for custom picklists.")
    actor: str = Field("cli", description="Who is recorded in the audit log for CLI actions.")
    fiscal_start_month: int = Field(
        1, ge=1, le=12, description="First month of the fiscal year (quarters follow it)."
    )
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    # ---- API server (`dealcast serve`) ----
    api_keys: SecretStr | None = Field(
        None,
        description='JSON mapping API key -> {"user_id": CRM User Id, "role": rep|manager|'
        "finance|admin}, sent by clients in the X-API-Key header.",
    )
    api_keys_file: Path | None = Field(
        None, description="A JSON or YAML file with the same mapping as `api_keys`."
    )
    db_pool_size: int = Field(5, ge=1, description="Database connections kept open (server).")
    db_max_overflow: int = Field(10, ge=0, description="Extra connections under load (server).")
    db_pool_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for a free connection before answering 503."
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After seconds on a 503 (server).")
    checkpoint_url: str | None = Field(
        None,
        description="Where chat threads are checkpointed; default: the database for "
        "PostgreSQL, a `<db>.threads.db` file beside an SQLite database.",
    )
    chat_review_interrupt: bool = Field(
        False,
        description="Hold chat answers that need review (low confidence, data quality, "
        "guardrail block) until a manager or admin resumes the thread.",
    )
    # ---- RAG index (`dealcast index`) ----
    chroma_path: Path | None = Field(
        None, description="Embedded Chroma index folder; default: data_dir/chroma."
    )
    chroma_host: str | None = Field(
        None, description="A Chroma server to use instead of the embedded index."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="The Chroma server's port.")
    rag_embed_threads: int = Field(
        1,
        ge=0,
        description="ONNX Runtime threads per query embedding (0 = all cores). One thread is "
        "fastest when requests or other jobs share the cores.",
    )
    rag_index_threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime threads when `dealcast index` (or an ingest) embeds in bulk "
        "(0 = all cores: about 1.9x one thread on 2 idle cores).",
    )

    # ---- Scheduled Salesforce sync in `dealcast serve` (when DEALCAST_SFDC_* credentials
    # are set; see dealcast.sync_schedule) and data freshness in every answer ----
    sync_every_minutes: float = Field(
        60,
        ge=0,
        description="Incremental Salesforce sync (then rescore and forecast) every N minutes "
        "while serving; 0 turns the scheduler off.",
    )
    sync_full_at: dt.time | None = Field(
        dt.time(3, 0),
        description="Daily full reconciliation (a Bulk re-read of every object) at this UTC "
        "time, HH:MM; 'off' for none.",
    )
    sync_refresh: bool = Field(
        True, description="Rescore changed deals and recompute the forecast after a sync."
    )
    freshness_cache_s: float = Field(
        5.0,
        ge=0,
        description="Seconds a server process reuses its data-freshness status (X-Data-Stale "
        "and X-Data-As-Of headers, alerts).",
    )

    @field_validator("sync_full_at", mode="before")
    @classmethod
    def _off_means_none(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "off", "none", "never"):
            return None
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dealcast.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
