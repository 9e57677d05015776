"""Wires authentication into the service: the token signer, the throttle, the principal lookup."""

from __future__ import annotations

from datetime import timedelta

from vcorch.auth.passwords import SecretHasher
from vcorch.auth.routes import AUTH
from vcorch.auth.service import AuthService, ThrottlePolicy
from vcorch.auth.tokens import TokenService
from vcorch.config import Settings
from vcorch.runtime import Runtime
from vcorch.web import CHECKIN_THROTTLE, PRINCIPAL_RESOLVER

__all__ = ["make_hasher", "setup"]


def make_hasher(settings: Settings) -> SecretHasher:
    return SecretHasher(settings.password_time_cost, settings.password_memory_kib)


def setup(runtime: Runtime) -> AuthService:
    settings = runtime.settings
    auth = AuthService(
        runtime.sessions,
        make_hasher(settings),
        TokenService(runtime.signing_key, settings.token_ttl_seconds, runtime.clock),
        ThrottlePolicy(
            settings.login_max_failures_per_account,
            settings.login_max_failures_per_address,
            timedelta(seconds=settings.login_window_seconds),
            first_delay=timedelta(seconds=settings.login_first_delay_seconds),
            max_delay=timedelta(seconds=settings.login_max_delay_seconds),
            max_checkins_per_address=settings.checkin_max_per_address,
        ),
        runtime.clock,
    )
    runtime.provide(AUTH, auth)
    runtime.provide(PRINCIPAL_RESOLVER, auth.principal_for)
    runtime.provide(CHECKIN_THROTTLE, auth.check_in_attempt)
    return auth
