"""Settings of one vcorch process.

Scalars come from the environment (``VCORCH_DATABASE_URL``...).  The sections that are
lists (bridges, probes) come from the TOML file named by ``VCORCH_CONFIG``; that file
may also hold scalars, which the environment overrides.  Anything invalid stops the
process at start with the key and the problem named (:class:`ConfigError`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """The configuration cannot be used; the message names each key and problem."""


class BridgeConfig(BaseModel):
    """One configured bridge instance (``[[bridges]]`` in the TOML file)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    type: str = Field(min_length=1, max_length=64)
    url: str | None = None
    username: str | None = None
    # Credentials are named indirectly so that the TOML file can be committed.
    password_env: str | None = None
    password_file: Path | None = None
    secret_env: str | None = None
    secret_file: Path | None = None
    ports: int = Field(default=100, ge=1, le=100_000)
    priority: int = 100
    units: list[str] = Field(default_factory=list)
    enabled: bool = True
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)
    options: dict[str, Any] = Field(default_factory=dict)

    def read_secret(self, which: Literal["password", "secret"]) -> str | None:
        """The credential, read from its environment variable or file; never stored here."""
        env_name = self.password_env if which == "password" else self.secret_env
        file_path = self.password_file if which == "password" else self.secret_file
        if env_name:
            value = os.environ.get(env_name)
            if value is None:
                raise ConfigError(f"bridges.{self.name}.{which}_env: {env_name} is not set")
            return value
        if file_path:
            try:
                return file_path.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise ConfigError(
                    f"bridges.{self.name}.{which}_file: cannot read {file_path}: {err.strerror}"
                ) from err
        return None


class ProbeConfig(BaseModel):
    """A probe rule (``[[probes]]``): which endpoints, how often, how judged."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sip", "h323", "http", "webrtc"]
    interval_seconds: float = Field(default=60.0, ge=1, le=86_400)
    timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    down_after: int = Field(default=3, ge=1, le=100)
    up_after: int = Field(default=2, ge=1, le=100)


class Settings(BaseSettings):
    """Everything one process needs to know; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="VCORCH_", extra="forbid")

    database_url: str = "sqlite+aiosqlite:///./vcorch.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65_535)
    timezone: str = "Asia/Ho_Chi_Minh"
    secret_key: SecretStr | None = None
    token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    login_max_failures_per_account: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(default=20, ge=1, le=10_000)
    login_window_seconds: int = Field(default=900, ge=1, le=86_400)
    password_time_cost: int = Field(default=3, ge=1, le=20)
    password_memory_kib: int = Field(default=65_536, ge=8, le=4_194_304)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    mail_sender: str = "vcorch <no-reply@example.org>"
    mail_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    reminder_offsets_minutes: list[int] = Field(default_factory=lambda: [1440, 60])
    booking_setup_buffer_minutes: int = Field(default=15, ge=0, le=240)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    public_url: str = "http://127.0.0.1:8080"
    bridges: list[BridgeConfig] = Field(default_factory=list)
    probes: list[ProbeConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (it signs every token)")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// (async drivers)"
            )
        return value

    @field_validator("bridges")
    @classmethod
    def _unique_bridge_names(cls, value: list[BridgeConfig]) -> list[BridgeConfig]:
        names = [bridge.name for bridge in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"bridge names must be unique; repeated: {', '.join(duplicates)}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _describe(err: ValidationError, prefix: str) -> str:
    lines = []
    for item in err.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"{prefix}{key}: {item['msg']}")
    return "invalid configuration: " + "; ".join(lines)


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the settings, or raise :class:`ConfigError` naming every bad key."""
    env = dict(os.environ if environ is None else environ)
    file_values: dict[str, Any] = {}
    config_path = env.get("VCORCH_CONFIG")
    if config_path:
        try:
            with open(config_path, "rb") as handle:
                file_values = tomllib.load(handle)
        except OSError as err:
            raise ConfigError(f"VCORCH_CONFIG: cannot read {config_path}: {err.strerror}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"VCORCH_CONFIG: {config_path} is not valid TOML: {err}") from err
    env_values: dict[str, Any] = {}
    known = set(Settings.model_fields)
    for key, value in env.items():
        if key.startswith("VCORCH_") and key != "VCORCH_CONFIG":
            name = key.removeprefix("VCORCH_").lower()
            if name.startswith("test_"):
                continue
            if name not in known:
                raise ConfigError(f"invalid configuration: {key}: unknown setting")
            env_values[name] = value
    merged = {**file_values, **env_values, **overrides}
    try:
        # Values are passed explicitly so that the environment is read once, here.
        return Settings.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(_describe(err, "")) from err
