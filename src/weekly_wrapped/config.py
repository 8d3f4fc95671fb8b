"""Settings: one typed object read once at start-up from WRAPPED_* variables and `.env`."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from weekly_wrapped.errors import ConfigError

FERNET_KEY_HINT = (
    'Make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


NOT_A_FERNET_KEY = "is not a Fernet key (32 url-safe base64-encoded bytes)"


class InvalidSecretKey(ConfigError):
    """WRAPPED_SECRET_KEY (or the kept key file) is not a Fernet key."""

    hint = FERNET_KEY_HINT


def is_fernet_key(key: bytes | str) -> bool:
    """Whether `key` is a Fernet key: 32 bytes, url-safe base64-encoded."""
    text = key.decode("ascii", "replace") if isinstance(key, bytes) else key
    try:
        return len(base64.urlsafe_b64decode(text.strip().encode("ascii"))) == 32
    except (binascii.Error, ValueError):
        return False


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

    database_busy_timeout_s: float = Field(default=10.0, ge=0, le=3600)
    """Seconds a command waits while another one writes to the SQLite database; then it exits 75."""

    bus: Literal["local", "kafka"] = "local"
    """Transport between sources and the processor: in-process, or a Kafka topic."""

    engine: Literal["embedded", "spark"] = "embedded"
    """Processor: Python micro-batches, or the Spark Structured Streaming job."""

    writer: Literal["offline", "gemini", "openai"] = "offline"
    """Who writes the weekly story: the deterministic offline writer or an LLM."""

    writer_language: str = "English"
    """Language of the stories an LLM writes (numbers stay in digits, as 1,234.5)."""

    writer_tone: str = "warm, playful and concise, like a friend who loves music"
    """Tone of voice of the stories an LLM writes."""

    writer_timeout_s: float = Field(default=30.0, gt=0, le=600)
    """Seconds to wait for one answer from the LLM before giving up on that request."""

    writer_retries: int = Field(default=1, ge=0, le=5)
    """Retries of an LLM request that hit a rate limit (429), a 5xx or a timeout."""

    writer_deadline_s: float = Field(default=90.0, gt=0, le=3600)
    """Most seconds an LLM may spend on one story, retries included; then the offline writer."""

    writer_token_budget: int = Field(default=200_000, ge=0, le=100_000_000)
    """Most LLM tokens (prompt and answer) one run may use; past it, the offline writer writes."""

    gemini_api_key: SecretStr | None = None
    """API key for WRAPPED_WRITER=gemini (Google AI Studio)."""

    gemini_model: str = "gemini-3.8-flash"
    """The Gemini model that writes stories."""

    gemini_base_url: str | None = None
    """Gemini API endpoint, for proxies and tests. Default: Google's."""

    openai_base_url: str = "https://api.openai.com/v1"
    """Any OpenAI-compatible endpoint: OpenAI, Ollama (http://127.0.0.1:11434/v1), vLLM, llama.cpp."""

    openai_api_key: SecretStr | None = None
    """API key for WRAPPED_WRITER=openai; local servers (Ollama, llama.cpp) need none."""

    openai_model: str = "gpt-5-mini"
    """The model that writes stories, e.g. gpt-5-mini, or llama3.2 on Ollama."""

    openai_output: Literal["auto", "json_schema", "json_object"] = "auto"
    """Structured output: json_schema (strict schema), json_object (JSON mode), or auto (try both)."""

    email: Literal["outbox", "smtp"] = "outbox"
    """Delivery: write .eml files to the outbox folder, or send through SMTP."""

    outbox_dir: Path | None = None
    """Where outbox emails go. Default: `<data dir>/outbox`."""

    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    """Events per micro-batch written to the warehouse in one transaction."""

    max_future_skew_s: int = Field(default=300, ge=0, le=86_400)
    """Events whose `played_at` is further than this in the future are quarantined (at most a day)."""

    import_commit_rows: int = Field(default=20_000, ge=1, le=10_000_000)
    """Rows of an export file `wrapped import` commits at once; a command that writes may wait that long."""

    import_max_archive_bytes: int = Field(default=8 << 30, ge=1 << 20)
    """Most bytes one zip may unpack to on `wrapped import` (8 GiB); a bigger one is refused."""

    import_max_archive_entries: int = Field(default=2_000, ge=1)
    """Most entries (files and folders) one zip may hold on `wrapped import`."""

    secret_key: SecretStr | None = None
    """Key for encrypting tokens and signing links (Fernet). Default: `<data dir>/secret.key`."""

    public_url: str | None = None
    """Where the web service answers, e.g. https://wrapped.example.org; unset: unsubscribe by mail."""

    smtp_host: str | None = None
    """SMTP server for WRAPPED_EMAIL=smtp, e.g. smtp.gmail.com."""

    smtp_port: int = Field(default=587, ge=1, le=65535)
    """SMTP port: 587 for STARTTLS, 465 for implicit TLS."""

    smtp_security: Literal["auto", "starttls", "ssl", "none"] = "auto"
    """SMTP security: auto (TLS on 465, else STARTTLS), starttls, ssl, or none (local relay)."""

    smtp_username: str | None = None
    """SMTP login, e.g. your Gmail address. Unset: no login."""

    smtp_password: SecretStr | None = None
    """SMTP password, e.g. a Gmail app password."""

    smtp_from: str = "Weekly Wrapped <wrapped@localhost>"
    """The From address of every email, in the outbox too."""

    smtp_timeout_s: float = Field(default=30.0, gt=0, le=600)
    """Seconds to wait for the SMTP server at each step before giving up on the attempt."""

    smtp_ca_file: Path | None = None
    """CA certificates (PEM) to trust for the SMTP server. Default: the system's."""

    email_attempts: int = Field(default=4, ge=1, le=10)
    """Tries per email when a failure is temporary (connection refused, 4xx replies)."""

    email_backoff_s: float = Field(default=2.0, ge=0, le=60)
    """Wait before the first retry of an email; it doubles on each retry, up to 60 s."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    """Logging level for the CLI and services; INFO shows each retry and step, DEBUG libraries too."""

    log_format: Literal["text", "json"] = "text"
    """Log lines on stderr: text for people, or json (one object per line) for log collectors."""

    spotify_client_id: str | None = None
    """Client ID of your Spotify app (developer dashboard); needed to log in and poll."""

    spotify_client_secret: SecretStr | None = None
    """Client secret of your Spotify app. Optional: login uses PKCE without it."""

    spotify_redirect_uri: str = "http://127.0.0.1:8765/callback"
    """Redirect URI registered in your Spotify app: https, or a loopback IP (not localhost)."""

    spotify_api_url: str = "https://api.spotify.com/v1"
    """Base URL of the Spotify Web API."""

    spotify_accounts_url: str = "https://accounts.spotify.com"
    """Base URL of the Spotify accounts service (authorize and token endpoints)."""

    spotify_max_wait: float = Field(default=60.0, ge=0, le=3600)
    """Seconds to wait on a 429 before retrying; a longer Retry-After skips the user this round."""

    spotify_request_timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds to wait for one answer from Spotify before counting it as failed."""

    spotify_retries: int = Field(default=3, ge=0, le=10)
    """Retries of a Spotify request after a 5xx, a timeout, a broken answer or a short 429 wait."""

    spotify_max_in_flight: int = Field(default=8, ge=1, le=64)
    """Users polled at once; a slow or rate-limited user never holds up the others."""

    spotify_requests_per_second: float = Field(default=60.0, gt=0, le=10_000)
    """Most requests per second one `wrapped` process sends to Spotify, across all users."""

    spotify_enrich_budget: int = Field(default=200, ge=0, le=100_000)
    """Most Spotify requests one `wrapped enrich` run may make (`--limit` overrides)."""

    # Kafka (WRAPPED_BUS=kafka): the topics, the producer and the consumer group.

    kafka_bootstrap: str = "127.0.0.1:9092"
    """Kafka brokers to connect to first, host:port[,host:port...] (`make services-up` starts one)."""

    kafka_topic: str = "wrapped.plays.v1"
    """Topic of PlayEvents; the app creates it if absent."""

    kafka_dlq_topic: str = "wrapped.plays.dlq.v1"
    """Dead-letter topic: messages the consumer cannot take, with the error in a header."""

    kafka_partitions: int = Field(default=6, ge=1, le=10_000)
    """Partitions of each topic the app creates; consumers of one group split them."""

    kafka_replication_factor: int = Field(default=1, ge=1, le=32)
    """Copies of each partition in topics the app creates: 1 for a single broker, 3 in production."""

    kafka_retention_hours: int = Field(default=-1, ge=-1)
    """How long topics the app creates keep messages; -1 keeps them forever, to replay."""

    kafka_group: str = "wrapped-processor"
    """Consumer group of `wrapped process`: consumers in one group split the partitions."""

    kafka_instance_id: str | None = None
    """This consumer's own name in the group (e.g. its pod's); restarted, it takes its partitions back, and ends what its predecessor's dead-letter transaction left open, at once."""

    kafka_linger_ms: int = Field(default=20, ge=0, le=5_000)
    """Milliseconds the producer waits to fill a batch before sending it."""

    kafka_batch_bytes: int = Field(default=1 << 20, ge=1_024, le=64 << 20)
    """Most bytes of messages the producer sends to one partition at once."""

    kafka_compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = "lz4"
    """Compression of the producer's batches."""

    kafka_delivery_timeout_s: float = Field(default=120.0, gt=0, le=3_600)
    """Seconds the producer keeps trying to deliver a message (a broker restart fits in)."""

    kafka_poll_timeout_s: float = Field(default=1.0, gt=0, le=60)
    """Seconds the consumer waits for a batch to fill; also how often it checks for a stop."""

    # Spark (WRAPPED_ENGINE=spark): the Structured Streaming job of `wrapped process`.

    spark_master: str = "local[2]"
    """Spark master of `wrapped process --engine spark`: local[N], spark://host:7077, k8s://…
    (spark-submit's --master wins)."""

    spark_checkpoint: str | None = None
    """The job's checkpoint (offsets and dedupe state): a folder, or an hdfs:// or s3a:// URL
    on a cluster. Default: `<data dir>/spark-checkpoint`."""

    spark_trigger_s: float = Field(default=10.0, gt=0, le=3_600)
    """Seconds between the job's micro-batches."""

    spark_max_offsets_per_trigger: int = Field(default=200_000, ge=1, le=100_000_000)
    """Most messages one micro-batch reads (a backlog is worked off in batches this big)."""

    spark_dedupe_window_s: int = Field(default=3_600, ge=1, le=7 * 86_400)
    """Seconds, by Kafka record time, within which the job drops a repeated event id itself;
    a repeat arriving later is dropped by the warehouse's key instead."""

    spark_partitions: int = Field(default=2, ge=1, le=10_000)
    """Tasks writing each micro-batch, each with its own database connection; also the
    dedupe state's partitions, fixed once a checkpoint exists."""

    spark_jars: str | None = None
    """Jars of Spark's Kafka source: a folder or a comma-separated list. Default: the
    checkout's infra/jvm/spark/target/lib (`scripts/jvm-jars spark`); unused under
    spark-submit with --jars or --packages."""

    # The web service and its schedule (`wrapped serve`).

    poll_minutes: int = Field(default=30, ge=1, le=1440)
    """Minutes between two polls of every connected user by `wrapped serve`'s scheduler."""

    send_at: str = Field(default="08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    """Local time (HH:MM) on Monday when `wrapped serve` emails each user last week's recap."""

    web_allowed_spotify_ids: str = ""
    """Spotify user ids allowed to log in to the web service, comma-separated; empty: anyone."""

    web_login_rate: str = "10 per minute"
    """Most login attempts one address may start, e.g. "10 per minute" (Flask-Limiter syntax)."""

    web_secure_cookies: Literal["auto", "always", "never"] = "auto"
    """Session cookie Secure flag: auto (when WRAPPED_PUBLIC_URL is https), always, or never."""

    web_upload_max_mb: int = Field(default=1024, ge=1, le=65_536)
    """Largest privacy export (zip) the web service accepts in one upload, in MiB."""

    @field_validator("secret_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            if not is_fernet_key(value.get_secret_value()):
                raise ValueError(NOT_A_FERNET_KEY)
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'wrapped.db'}"
        if self.outbox_dir is None:
            self.outbox_dir = self.data_dir / "outbox"
        return self

    @model_validator(mode="after")
    def _check_transport(self) -> Settings:
        """Refuse a bus and processor that can never work together.

        Combinations that could but are not built yet pass here; `open_bus` says so.
        """
        if self.engine == "spark" and self.bus == "local":
            raise ValueError(
                "WRAPPED_ENGINE=spark needs WRAPPED_BUS=kafka (the Spark job reads its plays "
                "from Kafka), not WRAPPED_BUS=local"
            )
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
        errors = exc.errors()
        if [err["loc"] for err in errors] == [("secret_key",)]:
            raise InvalidSecretKey(f"WRAPPED_SECRET_KEY {NOT_A_FERNET_KEY}") from None
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in errors)
        raise ConfigError(f"invalid settings: {problems}") from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """One validation problem: the variable and what is wrong, or the whole check's message."""
    message = message.removeprefix("Value error, ")
    if not loc:  # a check of several settings at once names them itself
        return message
    return f"WRAPPED_{'_'.join(str(p) for p in loc).upper()}: {message}"


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
