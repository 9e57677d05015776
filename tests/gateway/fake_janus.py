"""A stand-in for Janus' HTTP API that answers with what the real SIP plugin sent.

The answers and events are those recorded from Janus 1.1.2 (``tests/fixtures/janus_sip/``,
rewritten by ``python -m tests.gateway.capture``); the stand-in only renumbers sessions and
transactions to match the requests it gets.  ``scenario`` picks what a ``call`` gets:
``answered``, ``busy`` (486), ``no-offer`` (448), ``silent`` (no answer ever),
``remote-hangup`` (accepted, then the far end hangs up).
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

SECRET = "s3cret"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "janus_sip"


def recorded(name: str) -> list[dict[str, Any]]:
    return list(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


def _events_after(log: list[dict[str, Any]], request: str) -> list[dict[str, Any]]:
    """The events that followed the recorded plugin request ``request``, in order."""
    found, events = False, []
    for entry in log:
        if "request" in entry:
            body = entry["request"].get("body") or {}
            if found and "event" not in entry:
                break
            found = found or body.get("request") == request
        elif found:
            events.append(entry["event"])
    return events


@dataclass
class FakeJanus:
    scenario: str = "answered"
    secret: str | None = SECRET
    fail_first: int = 0  # answer the first N requests 503 (a proxy in front of Janus)
    requests: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[int, asyncio.Queue[dict[str, Any]]] = field(default_factory=dict)
    destroyed: list[int] = field(default_factory=list)
    _next: int = 1000

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/janus/info", self._info)
        app.router.add_post("/janus", self._root)
        app.router.add_post("/janus/{session}", self._session)
        app.router.add_get("/janus/{session}", self._poll)
        app.router.add_post("/janus/{session}/{handle}", self._handle)
        return app

    def _new_id(self) -> int:
        self._next += 1
        return self._next

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503, text="busy")
        if self.secret is not None and body.get("apisecret") != self.secret:
            answer = copy.deepcopy(recorded("core-errors")[0]["answer"])
            answer["transaction"] = body.get("transaction")
            return web.json_response(answer)
        return body

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response(json.loads((FIXTURES / "info.json").read_text()))

    async def _root(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        session = self._new_id()
        self.sessions[session] = asyncio.Queue()
        return web.json_response(
            {"janus": "success", "transaction": body["transaction"], "data": {"id": session}}
        )

    def _known(self, request: web.Request, body: dict[str, Any]) -> int | web.Response:
        session = int(request.match_info["session"])
        if session not in self.sessions:
            answer = copy.deepcopy(recorded("core-errors")[1]["answer"])
            answer.update(session_id=session, transaction=body.get("transaction"))
            answer["error"]["reason"] = f"No such session {session}"
            return web.json_response(answer)
        return session

    async def _session(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        session = self._known(request, body)
        if isinstance(session, web.Response):
            return session
        kind = body["janus"]
        if kind == "attach":
            return web.json_response(
                {
                    "janus": "success",
                    "session_id": session,
                    "transaction": body["transaction"],
                    "data": {"id": self._new_id()},
                }
            )
        if kind == "destroy":
            self.destroyed.append(session)
            await self.sessions.pop(session).put({"janus": "gone"})
            return web.json_response({"janus": "success", "transaction": body["transaction"]})
        return web.json_response({"janus": "ack", "transaction": body["transaction"]})

    async def _poll(self, request: web.Request) -> web.Response:
        session = int(request.match_info["session"])
        queue = self.sessions.get(session)
        if queue is None:
            return web.json_response(
                {"janus": "error", "error": {"code": 458, "reason": "No such session"}}
            )
        try:
            event = await asyncio.wait_for(queue.get(), 2.0)
        except TimeoutError:
            return web.json_response([{"janus": "keepalive"}])
        if event.get("janus") == "gone":
            return web.json_response(
                {"janus": "error", "error": {"code": 458, "reason": "No such session"}}
            )
        return web.json_response([event])

    async def _handle(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        session = self._known(request, body)
        if isinstance(session, web.Response):
            return session
        handle = int(request.match_info["handle"])
        what = body["body"]["request"]
        transaction = body["transaction"]
        queue = self.sessions[session]
        if what == "register":
            events = _events_after(recorded("answered"), "register")
        elif what == "call":
            events = self._call_events(body)
        elif what == "hangup":
            events = _events_after(recorded("answered"), "hangup")
        else:
            events = []
        for event in events:
            event = copy.deepcopy(event)
            event.update(session_id=session, sender=handle, transaction=transaction)
            await queue.put(event)
        if what == "call" and self.scenario == "remote-hangup":
            asyncio.get_running_loop().call_later(
                0.3, queue.put_nowait, self._remote_hangup(session, handle, transaction)
            )
        return web.json_response(
            {"janus": "ack", "session_id": session, "transaction": transaction}
        )

    def _call_events(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if self.scenario in ("answered", "remote-hangup"):
            return [e for e in _events_after(recorded("answered"), "call")]
        if self.scenario == "busy":
            return _events_after(recorded("busy"), "call")
        if self.scenario == "no-offer" or "jsep" not in body:
            return _events_after(recorded("no-offer"), "call")
        if self.scenario == "silent":
            return _events_after(recorded("answered"), "call")[:1]  # "calling", then nothing
        raise AssertionError(self.scenario)

    def _remote_hangup(self, session: int, handle: int, transaction: str) -> dict[str, Any]:
        events = _events_after(recorded("answered"), "hangup")
        event = copy.deepcopy(events[-1])
        event.update(session_id=session, sender=handle, transaction=transaction)
        event["plugindata"]["data"]["result"] = {"event": "hangup", "code": 200, "reason": "BYE"}
        return event
