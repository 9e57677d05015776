"""One browser's call through a gateway, and the registry of the calls in progress.

A call owns one Janus session with one SIP plugin handle (a session per call, so one
call's trouble never touches another's).  :meth:`GatewayCall.start`: ``register`` as a
guest (no REGISTER is sent: the identity only names the From), ``call`` the conference's
SIP URI with the browser's offer, and wait (bounded) for ``accepted`` and its answer.
While it lasts, one task long-polls the session's events and sends a keepalive now and
then; the call ends on ``hangup`` from either side, when ``still_wanted`` says no (the
meeting ended, the link expired), or on :meth:`GatewayCall.hang_up`; the session is
destroyed then.  ``on_change(call, present)`` is told once when the call is accepted and
once when it ends after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vcorch.gateway.errors import (
    CallRejected,
    CallTimedOut,
    GatewayBusy,
    GatewayError,
    GatewayUnavailable,
    OfferNotUsable,
)
from vcorch.gateway.janus_sip import JanusEvent, JanusSipClient

log = logging.getLogger(__name__)

# The plugin's refusals that blame the offer (missing SDP, unusable SDP).
OFFER_ERRORS = frozenset({448, 452})
KEEPALIVE_SECONDS = 20.0
# How often a live call asks whether it is still wanted (meeting ended, link expired).
CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class CallRequest:
    """Everything a call needs; chosen by vcorch, never by the browser."""

    run_site_id: int
    from_uri: str  # sip:vcorch-site-<id>@<sip_domain>
    display_name: str  # the room's name
    target_uri: str  # the conference's dial-in URI
    offer_sdp: str
    expires_at: datetime
    proxy: str | None = None


Change = Callable[["GatewayCall", bool], Awaitable[None]]
StillWanted = Callable[["GatewayCall"], Awaitable[bool]]


@dataclass
class GatewayCall:
    client: JanusSipClient
    request: CallRequest
    answer_timeout: float
    clock: Callable[[], datetime]
    on_change: Change | None = None
    still_wanted: StillWanted | None = None
    call_id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    session_id: int | None = None
    handle_id: int | None = None
    sip_call_id: str | None = None
    answer_sdp: str | None = None
    accepted_at: datetime | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_code: int | None = None
    end_reason: str | None = None
    _waiters: dict[str, asyncio.Future[JanusEvent]] = field(default_factory=dict)
    _accepted: asyncio.Future[JanusEvent] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return self.client.name

    @property
    def participant_id(self) -> str:
        """What the run site records: the gateway's SIP Call-ID once known."""
        return f"gateway:{self.gateway}:{self.sip_call_id or self.call_id}"

    async def start(self) -> str:
        """Place the call; returns Janus' SDP answer for the browser, or raises (and cleans up)."""
        try:
            self.session_id = await self.client.create_session()
            self.handle_id = await self.client.attach(self.session_id)
            self._tasks.append(
                asyncio.create_task(self._poll(), name=f"gateway-poll-{self.call_id}")
            )
            register: dict[str, Any] = {
                "request": "register",
                "type": "guest",
                "username": self.request.from_uri,
                "display_name": self.request.display_name,
            }
            if self.request.proxy:
                register["proxy"] = self.request.proxy
            registered = await self._send(register, wait=self.client.settings.timeout)
            if registered.sip_event != "registered":
                raise GatewayUnavailable(self.gateway, f"register answered {registered.sip_event}")
            loop = asyncio.get_running_loop()
            self._accepted = loop.create_future()
            jsep = {"type": "offer", "sdp": self.request.offer_sdp, "trickle": False}
            await self._send(
                {"request": "call", "uri": self.request.target_uri, "autoaccept_reinvites": True},
                jsep=jsep,
                wait=self.client.settings.timeout,
            )
            try:
                accepted = await asyncio.wait_for(self._accepted, self.answer_timeout)
            except TimeoutError as err:
                raise CallTimedOut(
                    self.gateway, f"no answer from {self.request.target_uri} in time"
                ) from err
            if accepted.jsep is None or not accepted.jsep.get("sdp"):
                raise GatewayUnavailable(self.gateway, "the call was accepted without an answer")
            self.answer_sdp = str(accepted.jsep["sdp"])
            self.accepted_at = self.clock()
        except BaseException:
            # Also when the browser gives up (the WHIP request is cancelled): nothing is left
            # ringing on the MCU nor open on Janus.
            await self._teardown(hang_up=True)
            self.ended.set()
            for task in self._tasks:
                task.cancel()
            raise
        if self.on_change is not None:
            await self.on_change(self, True)
        self._tasks.append(asyncio.create_task(self._watch(), name=f"gateway-watch-{self.call_id}"))
        return self.answer_sdp

    async def hang_up(self, reason: str = "left") -> None:
        """End the call (idempotent): SIP BYE through the plugin, then the session goes."""
        if self.ended.is_set():
            return
        self.end_reason = self.end_reason or reason
        await self._teardown(hang_up=True)
        await self._ended()

    # -- internals -----------------------------------------------------------------------

    async def _send(
        self, body: dict[str, Any], *, wait: float, jsep: dict[str, Any] | None = None
    ) -> JanusEvent:
        assert self.session_id is not None
        assert self.handle_id is not None
        transaction = secrets.token_hex(8)
        future: asyncio.Future[JanusEvent] = asyncio.get_running_loop().create_future()
        self._waiters[transaction] = future
        try:
            await self.client.message(
                self.session_id, self.handle_id, body, transaction=transaction, jsep=jsep
            )
            event = await asyncio.wait_for(future, wait)
        except TimeoutError as err:
            raise GatewayUnavailable(
                self.gateway, f"the SIP plugin did not answer {body['request']}"
            ) from err
        finally:
            self._waiters.pop(transaction, None)
        error = event.error
        if error is not None:
            code, text = error
            if code in OFFER_ERRORS:
                raise OfferNotUsable(self.gateway, f"{code}: {text}")
            raise GatewayUnavailable(self.gateway, f"SIP plugin error {code}: {text}")
        return event

    async def _poll(self) -> None:
        session_id = self.session_id
        assert session_id is not None
        failures = 0
        while not self.ended.is_set() and self.session_id == session_id:
            try:
                events = await self.client.events(session_id)
                failures = 0
            except GatewayUnavailable as err:
                failures += 1
                if "Janus error" in err.reason or failures > self.client.settings.retries + 2:
                    # The session is gone (Janus restarted, or it timed out): the call is.
                    self.end_reason = self.end_reason or f"gateway lost: {err.reason}"
                    self._fail_pending(err)
                    await self._ended()
                    return
                await asyncio.sleep(min(2.0, 0.2 * 2**failures))
                continue
            for event in events:
                await self._dispatch(event)

    async def _dispatch(self, event: JanusEvent) -> None:
        # A call's progress events all carry the ``call`` request's transaction: the first
        # answers the request, and each is also a step of the call.
        if event.transaction is not None:
            waiter = self._waiters.get(event.transaction)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
        name = event.sip_event
        if event.janus != "event" or name is None:
            return
        result = event.result
        if name == "calling":
            self.sip_call_id = str(event.data.get("call_id") or result.get("call_id") or "")
        elif name == "accepted":
            if self._accepted is not None and not self._accepted.done():
                self._accepted.set_result(event)
        elif name == "hangup":
            code = int(result.get("code") or 0)
            reason = str(result.get("reason") or "hangup")
            self.end_code = code
            self.end_reason = self.end_reason or f"{code} {reason}".strip()
            rejected = CallRejected(self.gateway, f"{code} {reason}".strip(), code)
            self._fail_pending(rejected)
            if self.accepted_at is not None:
                await self.hang_up(self.end_reason)

    def _fail_pending(self, err: GatewayError) -> None:
        if self._accepted is not None and not self._accepted.done():
            self._accepted.set_exception(err)
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(err)

    async def _watch(self) -> None:
        """Keepalives, and the end of the call when it is no longer wanted."""
        since_keepalive = 0.0
        while not self.ended.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), CHECK_SECONDS)
            if self.ended.is_set():
                return
            since_keepalive += CHECK_SECONDS
            if since_keepalive >= KEEPALIVE_SECONDS and self.session_id is not None:
                since_keepalive = 0.0
                with contextlib.suppress(GatewayUnavailable):
                    await self.client.keepalive(self.session_id)
            if self.clock() >= self.request.expires_at:
                await self.hang_up("the link expired")
                return
            if self.still_wanted is not None:
                try:
                    wanted = await self.still_wanted(self)
                except Exception:  # a database hiccup must not end a call
                    log.exception("gateway call %s: checking the meeting failed", self.call_id)
                    continue
                if not wanted:
                    await self.hang_up("the meeting ended")
                    return

    async def _teardown(self, *, hang_up: bool) -> None:
        session_id, self.session_id = self.session_id, None
        if session_id is None:
            return
        if hang_up and self.handle_id is not None:
            with contextlib.suppress(GatewayError):
                await self.client.message(
                    session_id,
                    self.handle_id,
                    {"request": "hangup"},
                    transaction=secrets.token_hex(8),
                )
        with contextlib.suppress(GatewayError):
            await self.client.destroy(session_id)

    async def _ended(self) -> None:
        if self.ended.is_set():
            return
        self.ended.set()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        if self.session_id is not None:
            await self._teardown(hang_up=False)
        if self.accepted_at is not None and self.on_change is not None:
            try:
                await self.on_change(self, False)
            except Exception:
                log.exception("gateway call %s: recording its end failed", self.call_id)
        log.info(
            "gateway call %s of run site %s ended: %s",
            self.call_id,
            self.request.run_site_id,
            self.end_reason,
        )


class GatewayCalls:
    """The calls in progress of one process, by id; at most ``max_calls`` per gateway."""

    def __init__(self) -> None:
        self._calls: dict[str, GatewayCall] = {}

    def count(self, gateway: str) -> int:
        return sum(1 for call in self._calls.values() if call.gateway == gateway)

    def reserve(self, call: GatewayCall, max_calls: int) -> None:
        if self.count(call.gateway) >= max_calls:
            raise GatewayBusy(call.gateway, f"at its limit of {max_calls} calls")
        self._calls[call.call_id] = call

    def release(self, call: GatewayCall) -> None:
        self._calls.pop(call.call_id, None)

    def get(self, call_id: str) -> GatewayCall | None:
        return self._calls.get(call_id)

    def of_site(self, run_site_id: int) -> list[GatewayCall]:
        return [c for c in self._calls.values() if c.request.run_site_id == run_site_id]

    def __iter__(self) -> Iterator[GatewayCall]:
        return iter(list(self._calls.values()))
