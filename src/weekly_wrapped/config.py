"""Settings: one typed object read once at start-up from WRAPPED_* variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from weekly_wrapped.errors import ConfigError


class Settings(BaseSettings):
    """Every setting Weekly Wrapped reads. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="WRAPPED_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    data_dir: Path = Path("data")
    """Folder for the SQLite warehouse, the outbox and other local state."""

    database_url: str | None = None
    """Any SQLAlchemy URL. Default: a SQLite file `wrapped.db` inside the data directory."""

    bus: Literal["local", "kafka"] = "local"
    """Transport between sources and the processor: in-process, or a Kafka topic."""

    engine: Literal["embedded", "spark"] = "embedded"
    """Processor: Python micro-batches, or the Spark Structured Streaming job."""

    writer: Literal["offline", "gemini", "openai"] = "offline"
    """Who writes the weekly story: the deterministic offline writer or an LLM."""

    email: Literal["outbox", "smtp"] = "outbox"
    """Delivery: write .eml files to the outbox folder, or send through SMTP."""

    outbox_dir: Path | None = None
    """Where outbox emails go. Default: `<data dir>/outbox`."""

    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    """Events per micro-batch written to the warehouse in one transaction."""

    max_future_skew_s: int = Field(default=300, ge=0)
    """Events whose `played_at` is further than this in the future are quarantined."""

    secret_key: SecretStr | None = None
    """Key for encrypting tokens at rest and signing links (Fernet, 32 url-safe base64 bytes)."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Logging level for the CLI and services."""

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'wrapped.db'}"
        if self.outbox_dir is None:
            self.outbox_dir = self.data_dir / "outbox"
        return self

    @property
    def db_url(self) -> str:
        """The database URL, always set once validated."""
        assert self.database_url is not None  # noqa: S101 - set by _derive_paths
        return self.database_url


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation problems into a `ConfigError` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"WRAPPED_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def env_example() -> str:
    """The text of `.env.example`: every setting, its description and its default."""
    lines = [
        "# Weekly Wrapped settings. Copy to .env and edit; every variable is optional.",
        "# Regenerate with: python -m weekly_wrapped.config > .env.example",
        "",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"# {field.description or ''}".rstrip())
        default = field.default
        shown = "" if default is None else getattr(default, "value", default)
        if isinstance(shown, bool):
            shown = str(shown).lower()
        lines.append(f"# WRAPPED_{name.upper()}={shown}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(env_example(), end="")
