"""Configuration, from environment variables prefixed ``LINLI_``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.calendar import DEFAULT_RESOLVE_LIMITS, DEFAULT_RESPOND_LIMITS, TimeLimit
from domain.errors import InvalidValue
from domain.need import PRIORITIES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore")

    store: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = Path("var/linli.sqlite3")

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "linli"
    postgres_user: str = "postgres"
    postgres_password: str = ""
    postgres_schema: str = "public"
    postgres_pool_size: int = Field(default=10, ge=1, le=200)
    postgres_max_overflow: int = Field(default=10, ge=0, le=200)
    # Streaming replicas of that server whose views may answer queries
    # (issue 27 item 5, infrastructure/read_replicas.py): ``host:port`` (or
    # ``host``, on LINLI_POSTGRES_PORT), comma-separated, each one server
    # (not a balancer in front of several). Empty: everything on the primary.
    postgres_read_hosts: str = ""
    # A replica whose views are further behind the primary's than this
    # (seconds), or whose position could not be read for this long, is left
    # out until it catches up; its reads go to the primary.
    postgres_read_max_lag_seconds: float = Field(default=2.0, gt=0, le=300)
    # How long a query with ``?after=N`` waits, once the primary's views have
    # reached N, for a replica's to; then it is answered from the primary.
    postgres_read_wait_seconds: float = Field(default=0.25, ge=0, le=5)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    respond_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RESPOND_LIMITS))
    resolve_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RESOLVE_LIMITS))
    # A redo's own limits (重办); unset, a redo has the priority's limits.
    redo_respond_limits: dict[str, str] | None = None
    redo_resolve_limits: dict[str, str] | None = None
    timezone: str = "Asia/Shanghai"
    holiday_file: Path | None = None
    evaluation_window_days: float = Field(default=7, ge=0)

    # How long an API worker may keep accepting a token revoked by another
    # process (the CLI, another worker); revoked in the worker's own process,
    # it is refused at once. 0: read the credentials table on every request.
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=30)

    # A console session (infrastructure/console_sessions.py) not used for this
    # long is signed out; revoking its credential signs it out at once.
    console_session_idle_minutes: float = Field(default=30, gt=0, le=1440)

    # Aggregates each process keeps as its commands saved them, to start the
    # next command on one from (application/recent.py); 0 keeps none.
    kept_aggregates: int = Field(default=10_000, ge=0, le=1_000_000)

    run_projections: bool = True
    view_wait_timeout: float = Field(default=5.0, gt=0, le=60)
    # Requests of one credential that may wait at once for ``?after=N``
    # (read-your-writes); one more is answered 429 with Retry-After.
    max_waits_per_credential: int = Field(default=8, ge=1, le=1000)
    projection_batch_size: int = Field(default=2000, ge=1, le=10000)
    # Processes that catch the views up when they are far behind (a rebuild,
    # a projection process started after a long stop), each applying the
    # events of its share of the cases (infrastructure/partitions.py);
    # PostgreSQL only, 1: this process alone.
    catch_up_processes: int = Field(default=2, ge=1, le=16)
    projection_poll_interval: float = Field(default=0.2, gt=0, le=10)
    # The view updater starts a batch at most this often (seconds): under a
    # stream of commands, those of one interval are applied in one transaction.
    projection_batch_interval: float = Field(default=0.05, ge=0, le=1)

    # Signed checkpoints of the Merkle tree over the log (issue 26,
    # infrastructure/transparency_log.py): the Ed25519 private key (PEM, made
    # by ``linli audit keygen --out FILE``); without one no checkpoint is made.
    checkpoint_key_file: Path | None = None
    # With a key, the process that keeps the views also signs a checkpoint
    # this often (seconds), when the log has grown since the last one; 0: only
    # on demand (POST /audit/checkpoints).
    checkpoint_interval_seconds: float = Field(default=3600, ge=0, le=366 * 86400)
    # The tree's upkeep: a thread of the process that keeps the views hashes
    # new events into the tree's leaves as they come (and signs the periodic
    # checkpoints). Off, no thread runs: the proofs' and checkpoints'
    # endpoints, ``linli audit checkpoint`` and a supervisor's checkpoint
    # bring the tree up to date themselves, when asked (the backlog is hashed
    # then); no periodic checkpoint is signed.
    transparency_upkeep: bool = True

    # Outbound webhooks (issue 25 item 2, infrastructure/webhooks.py). A serving
    # process delivers them (one thread) unless ``webhooks_deliver`` is off;
    # several processes may: a lease keeps each subscription to one at a time.
    webhooks_deliver: bool = True
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # The wait after the n-th consecutive failure: min(cap, base * 2**(n-1)), less up to half (jitter).
    webhook_backoff_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    webhook_backoff_cap_seconds: float = Field(default=600.0, gt=0, le=86400)
    # Consecutive failed attempts after which a subscription pauses (POST /webhooks/{id}/resume).
    webhook_max_failures: int = Field(default=10, ge=1, le=1000)
    # Other processes' events are seen this often (this process's own at once).
    webhook_poll_interval: float = Field(default=1.0, gt=0, le=60)
    # How long a worker holds a subscription without renewing it (after a crash, the wait).
    webhook_lease_seconds: float = Field(default=30.0, ge=1, le=3600)

    @field_validator("postgres_read_hosts")
    @classmethod
    def _read_hosts(cls, value: str, info: ValidationInfo) -> str:
        hosts = parse_hosts(value, info.data.get("postgres_port", 5432))
        if hosts and info.data.get("store") != "postgres":
            raise ValueError("read replicas need LINLI_STORE=postgres")
        return value.strip()

    @property
    def read_hosts(self) -> list[tuple[str, int]]:
        """The replicas of LINLI_POSTGRES_READ_HOSTS, as (host, port)."""
        return parse_hosts(self.postgres_read_hosts, self.postgres_port)

    @field_validator("respond_limits", "resolve_limits", "redo_respond_limits", "redo_resolve_limits")
    @classmethod
    def _limits_for_every_priority(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        missing = set(PRIORITIES) - set(value)
        if missing:
            raise ValueError(f"missing limits for {', '.join(sorted(missing))}")
        for priority, text in value.items():
            try:
                TimeLimit.parse(text)
            except InvalidValue as error:  # a domain error: pydantic reports ValueErrors
                raise ValueError(f"{priority}: {error.message.split(': ', 1)[-1]}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"no such time zone: {value!r} (an IANA name, like Asia/Shanghai)") from None
        return value

    @field_validator("holiday_file")
    @classmethod
    def _readable_holiday_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value


def parse_hosts(text: str, default_port: int) -> list[tuple[str, int]]:
    """``host:port`` entries, comma-separated (``[::1]:5433`` for IPv6; a
    host alone is on ``default_port``), as (host, port); ValueError saying
    which entry is wrong."""
    hosts: list[tuple[str, int]] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        host, port_text = entry, ""
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest and not rest.startswith(":"):
                raise ValueError(f"{entry!r} is not like host:port")
            port_text = rest[1:]
        elif entry.count(":") == 1:
            host, port_text = entry.split(":")
        if not host or any(c.isspace() or c in "/,[]" for c in host):
            raise ValueError(f"{entry!r} is not like host:port")
        port = default_port
        if port_text:
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
            port = int(port_text)
        if (host, port) in hosts:
            raise ValueError(f"{entry!r} is named twice")
        hosts.append((host, port))
    return hosts
