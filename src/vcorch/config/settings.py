"""Settings of one vcorch process.

Scalars come from the environment (``VCORCH_DATABASE_URL``...).  The sections that are
lists (bridges, probes) come from the TOML file named by ``VCORCH_CONFIG``; that file
may also hold scalars, which the environment overrides.  Anything invalid stops the
process at start with the key and the problem named (:class:`ConfigError`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from vcorch.errors import VcorchError


class ConfigError(VcorchError):
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


class GatewayConfig(BaseModel):
    """One WebRTC-to-SIP gateway (``[[gateways]]``): a Janus whose SIP plugin brings a
    browser into a SIP-only MCU's conference as one more SIP participant."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    # Janus' HTTP API, e.g. http://127.0.0.1:8088/janus.
    api_url: str = Field(min_length=1, max_length=500, pattern=r"^https?://")
    # Janus' core ``api_secret``, named indirectly like a bridge's credentials.
    api_secret_env: str | None = None
    api_secret_file: Path | None = None
    # The domain of the From URI (``sip:vcorch-site-<id>@<sip_domain>``).
    sip_domain: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")
    # An outbound SIP proxy the calls go through (``sip:host:port``); none: straight.
    proxy: str | None = Field(default=None, max_length=500, pattern=r"^sips?:")
    max_calls: int = Field(default=20, ge=1, le=10_000)
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)
    # How long a call may take to be answered before the browser is told it failed.
    answer_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    health_interval_seconds: float = Field(default=15.0, ge=1, le=3600)
    # The bridges (by name) whose conferences it calls; empty: every bridge.
    bridges: list[str] = Field(default_factory=list)
    enabled: bool = True

    def read_secret(self) -> str | None:
        """Janus' api_secret, read from its environment variable or file; never stored here."""
        if self.api_secret_env:
            value = os.environ.get(self.api_secret_env)
            if value is None:
                raise ConfigError(
                    f"gateways.{self.name}.api_secret_env: {self.api_secret_env} is not set"
                )
            return value
        if self.api_secret_file:
            try:
                return self.api_secret_file.read_text(encoding="utf-8").strip()
            except OSError as err:
                raise ConfigError(
                    f"gateways.{self.name}.api_secret_file: cannot read "
                    f"{self.api_secret_file}: {err.strerror}"
                ) from err
        return None

    def serves(self, bridge: str) -> bool:
        return self.enabled and (not self.bridges or bridge in self.bridges)


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
    # Throttles (docs/security.md#throttles): free failures per (account, address) and per
    # address, then waits doubling from the first delay up to the cap; the same for self
    # check-ins per address.  The client address is X-Forwarded-For's right-most hop not in
    # trusted_proxies, and only when the peer itself is a trusted proxy.
    login_max_failures_per_account: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(default=20, ge=1, le=10_000)
    login_window_seconds: int = Field(default=900, ge=1, le=86_400)
    login_first_delay_seconds: float = Field(default=2.0, gt=0, le=3600)
    login_max_delay_seconds: float = Field(default=300.0, gt=0, le=86_400)
    checkin_max_per_address: int = Field(default=200, ge=1, le=100_000)
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: Any) -> Any:
        # From the environment: "10.0.0.5,10.1.0.0/16" (or a JSON list).
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
            value = [item.strip() for item in value if item.strip()]
        for item in value if isinstance(value, list) else []:
            try:
                ipaddress.ip_network(item, strict=False)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from err
        return value

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
    # How long a stop waits for requests in flight (SIGTERM to exit stays under ~15 s).
    shutdown_grace_seconds: float = Field(default=5.0, gt=0, le=60)
    # A series with an end (UNTIL or COUNT) may run this many years past its start.
    booking_series_max_years: int = Field(default=10, ge=1, le=50)
    # Orchestration (docs/configuration.md#orchestration): when each job runs, how hard
    # sites are called, when a meeting moves to another bridge.
    preflight_before_minutes: int = Field(default=30, ge=0, le=1440)
    launch_before_minutes: int = Field(default=5, ge=0, le=120)
    launch_grace_minutes: int = Field(default=15, ge=0, le=240)
    end_warning_minutes: int = Field(default=5, ge=0, le=120)
    dial_attempts: int = Field(default=3, ge=1, le=20)
    dial_concurrency: int = Field(default=8, ge=1, le=500)
    dial_retry_base_seconds: float = Field(default=5.0, gt=0, le=600)
    dial_retry_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    ring_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    failover_after: int = Field(default=3, ge=1, le=100)
    supervise_seconds: float = Field(default=2.0, gt=0, le=60)
    # Supervision's reconciling listings (docs/operations.md#supervision): the least wait
    # between two listings of a conference while sites are called and once they are
    # settled, and the share of a bridge's request budget supervision may use.
    reconcile_launch_seconds: float = Field(default=1.0, gt=0, le=600)
    reconcile_steady_seconds: float = Field(default=20.0, gt=0, le=3600)
    supervision_budget_share: float = Field(default=0.5, gt=0, le=1)
    scheduler_sync_seconds: float = Field(default=15.0, gt=0, le=600)
    scheduler_horizon_minutes: int = Field(default=120, ge=10, le=10_080)
    leader_check_seconds: float = Field(default=1.0, gt=0, le=60)
    # The live room's stream (docs/console.md#live-room): how late a change written by
    # another process may be, the keep-alive comment (and token check), streams per account.
    live_stream_poll_seconds: float = Field(default=1.0, ge=0.05, le=30)
    live_stream_heartbeat_seconds: float = Field(default=15.0, ge=0.1, le=120)
    live_streams_per_user: int = Field(default=4, ge=1, le=50)
    # The WebRTC fallback (docs/webrtc-fallback.md): ICE servers handed to browsers, TURN
    # REST credentials (coturn use-auth-secret), and the built-in bridge's limits.  The
    # participant caps follow benchmarks/webrtc_bridge.py on one core.
    webrtc_stun_urls: list[str] = Field(default_factory=list)
    webrtc_turn_urls: list[str] = Field(default_factory=list)
    webrtc_turn_secret: SecretStr | None = None
    webrtc_turn_ttl_seconds: int = Field(default=43_200, ge=60, le=7 * 86_400)
    webrtc_host_addresses: list[str] = Field(default_factory=list)
    # STUN the built-in bridge itself asks for its public address (a server behind 1:1 NAT).
    webrtc_bridge_stun_urls: list[str] = Field(default_factory=list)
    # benchmarks/webrtc_bridge.py: one core carries about 4-5 audio+video participants (0.2
    # cores each) or 8-9 audio-only ones; 4 leaves headroom whatever the media.
    # What one core was measured to carry with video (benchmarks/results/webrtc_bridge.json).
    webrtc_max_participants: int = Field(default=12, ge=1, le=10_000)
    webrtc_max_per_conference: int = Field(default=12, ge=2, le=1000)
    webrtc_video_max_width: int = Field(default=640, ge=16, le=3840)
    webrtc_video_max_height: int = Field(default=360, ge=16, le=2160)
    webrtc_video_max_fps: int = Field(default=15, ge=1, le=60)
    # Janus' own browser library (Debian libjs-janus-gateway), served to the join page of
    # Janus-hosted meetings at /vendor/janus.js: never from a CDN, always under vcorch's CSP.
    janus_js_path: Path = Path("/usr/share/javascript/janus-gateway/janus.js")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    public_url: str = "http://127.0.0.1:8080"
    bridges: list[BridgeConfig] = Field(default_factory=list)
    # WebRTC-to-SIP gateways (docs/webrtc-fallback.md); names unique like bridges'.
    gateways: list[GatewayConfig] = Field(default_factory=list)

    @field_validator("gateways")
    @classmethod
    def _unique_gateway_names(cls, value: list[GatewayConfig]) -> list[GatewayConfig]:
        names = [gateway.name for gateway in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"gateway names must be unique; repeated: {', '.join(duplicates)}")
        return value

    probes: list[ProbeConfig] = Field(default_factory=list)
    # Endpoint monitoring (docs/monitoring.md).  Sweeps run in the leader process only.
    monitoring_enabled: bool = True
    monitoring_hot_interval_seconds: float = Field(default=10.0, ge=1, le=3600)
    monitoring_hot_lead_minutes: int = Field(default=60, ge=0, le=1440)
    monitoring_concurrency: int = Field(default=256, ge=1, le=10_000)
    monitoring_alert_horizon_hours: int = Field(default=24, ge=1, le=168)
    monitoring_http_verify_tls: bool = True
    monitoring_webhook_url: str | None = None
    monitoring_webhook_secret: SecretStr | None = None
    monitoring_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    monitoring_webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    # Attendance (docs/attendance.md): how a site's status is judged.
    attendance_late_after_minutes: int = Field(default=10, ge=0, le=1440)
    attendance_left_early_minutes: int = Field(default=10, ge=0, le=1440)
    attendance_present_share: float = Field(default=0.8, ge=0, le=1)
    attendance_reconnect_grace_seconds: int = Field(default=60, ge=0, le=3600)
    # How long a self check-in link stays valid after the occurrence's end.
    attendance_checkin_grace_minutes: int = Field(default=120, ge=0, le=7 * 1440)
    # Online-meeting statistics (docs/statistics.md): the programme's target share and the
    # calendar period it applies to, how often the leader refreshes the monthly summary,
    # which unit level is a "province", how long open data may be cached.
    online_share_target: float = Field(default=0.30, gt=0, lt=1)
    online_share_period: Literal["year", "quarter", "month"] = "year"
    stats_refresh_seconds: float = Field(default=60.0, ge=1, le=3600)
    stats_province_level: str = Field(default="province", min_length=1, max_length=32)
    open_data_max_age_seconds: int = Field(default=900, ge=0, le=86_400)

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

    @field_validator("monitoring_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("monitoring_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it signs every webhook call)")
        return value

    @field_validator(
        "webrtc_stun_urls",
        "webrtc_turn_urls",
        "webrtc_host_addresses",
        "webrtc_bridge_stun_urls",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # From the environment these come as one string: "a,b" (or a JSON list).
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("webrtc_stun_urls", "webrtc_turn_urls", "webrtc_bridge_stun_urls")
    @classmethod
    def _ice_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return value

    @field_validator("webrtc_turn_secret")
    @classmethod
    def _turn_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (it signs TURN credentials)")
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

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.monitoring_webhook_url and self.monitoring_webhook_secret is None:
            raise ValueError(
                "monitoring_webhook_secret: required when monitoring_webhook_url is set"
                " (receivers check the signature)"
            )
        return self

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
