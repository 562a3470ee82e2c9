"""Settings from the environment (prefix `DEALCAST_`) and `.env`; secrets live here only."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dealcast.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
