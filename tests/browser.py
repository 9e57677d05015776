"""Headless Debian chromium for page tests, driven over the DevTools protocol.

A pytest plugin (listed in tests/conftest.py): one chromium process per test session
(fixture ``chromium``), one DevTools connection per test (fixture ``browser``), and pages
that really load and run their JavaScript against the test server::

    async def test_page(browser: Browser, app_client) -> None:
        page = await browser.new_page(width=390, height=844, mobile=True)
        await page.goto(str(app_client.make_url("/board")))
        await page.fill("input[name=username]", "laocai_op")
        await page.click("button[type=submit]")
        await page.wait_for("document.querySelector('.endpoint') !== null")
        await page.screenshot(artifact("board.png"))
        assert page.errors == []          # uncaught exceptions of the page's scripts

The protocol is spoken directly with aiohttp's websocket client (no Playwright: its browser
download does not work here, and the Debian binary is what CI installs).  A page's console
messages and uncaught exceptions are collected on ``Page.console`` and ``Page.errors``.
Without chromium the tests skip on a developer machine and fail in CI (``missing_service``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.services import missing_service

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
START_LIMIT = 20.0
COMMAND_TIMEOUT = 30.0

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in containers; chromium refuses its sandbox there
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--mute-audio",
    "--hide-scrollbars",
    # A camera and a microphone for pages that ask (join pages), without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # WebRTC pages connect to test bridges on 127.0.0.1, which chromium's ICE skips otherwise.
    "--allow-loopback-in-peer-connection",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def artifact(name: str) -> Path:
    """A path under test-artifacts/ (created) for screenshots and logs of page tests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


class BrowserError(Exception):
    """The browser answered a command with an error, or a page script threw."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@dataclass
class ChromiumProcess:
    """A running headless chromium and the DevTools websocket URL of its browser target."""

    process: subprocess.Popen[bytes]
    ws_url: str
    profile: Path
    log: Path

    @classmethod
    def start(cls, binary: str, profile: Path) -> ChromiumProcess:
        profile.mkdir(parents=True, exist_ok=True)
        log = profile / "chromium.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_LIMIT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"chromium exited with {process.returncode}; see {log}")
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    return cls(process, f"ws://127.0.0.1:{lines[0]}{lines[1]}", profile, log)
            time.sleep(0.05)
        _terminate(process)
        raise RuntimeError(f"chromium did not open its DevTools port in {START_LIMIT:g} s")

    def stop(self) -> None:
        _terminate(self.process)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@dataclass
class Page:
    """One tab, attached through a flat DevTools session."""

    browser: Browser
    target_id: str
    session_id: str
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, session_id=self.session_id)

    async def goto(self, url: str, *, timeout: float = 15.0) -> None:  # noqa: ASYNC109 -- a test helper bounding its own wait
        """Navigate and wait for the load event of the new document."""
        loaded = self.browser.next_event("Page.loadEventFired", self.session_id)
        answer = await self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {answer['errorText']}")
        await asyncio.wait_for(loaded, timeout)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), or BrowserError."""
        answer = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {text}")
        return answer.get("result", {}).get("value")

    async def wait_for(
        self,
        expression: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 -- a test helper bounding its own wait
        interval: float = 0.1,
    ) -> Any:
        """Poll ``expression`` until it is truthy; its value, or TimeoutError naming it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(
                    f"still false after {timeout:g} s: {expression}"
                    f" (page errors: {self.errors}, console: {self.console[-5:]})"
                )
            await asyncio.sleep(interval)

    async def fill(self, selector: str, text: str) -> None:
        """Put ``text`` in the field the way typing does (focus, value, input event)."""
        await self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) throw new Error("no element " + {json.dumps(selector)});
                el.focus();
                el.value = {json.dumps(text)};
                el.dispatchEvent(new Event("input", {{bubbles: true}}));
                el.dispatchEvent(new Event("change", {{bubbles: true}}));
                return true;
            }})()"""
        )

    async def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (after scrolling it into view)."""
        box = await self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) throw new Error("no element " + {json.dumps(selector)});
                el.scrollIntoView({{block: "center"}});
                const r = el.getBoundingClientRect();
                return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
            }})()"""
        )
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        answer = await self.send("Page.captureScreenshot", params)
        image = base64.b64decode(answer["data"])
        await asyncio.to_thread(_write, path, image)
        return path

    async def close(self) -> None:
        with contextlib.suppress(BrowserError, ConnectionError, TimeoutError):
            await self.browser.send("Target.closeTarget", {"targetId": self.target_id})


class Browser:
    """One DevTools connection to the browser; pages are flat sessions over it."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._http = http
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waiters: list[tuple[str, str | None, asyncio.Future[dict[str, Any]]]] = []
        self._pages: dict[str, Page] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, ws_url: str) -> Browser:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(ws_url, max_msg_size=0, timeout=aiohttp.ClientWSTimeout())
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> dict[str, Any]:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_str(json.dumps(message))
        try:
            return await asyncio.wait_for(future, COMMAND_TIMEOUT)
        finally:
            self._pending.pop(ident, None)

    def next_event(self, method: str, session_id: str | None) -> asyncio.Future[dict[str, Any]]:
        """A future for the next ``method`` event (of that session); register before acting."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((method, session_id, future))
        return future

    async def new_page(
        self, *, width: int = 1280, height: int = 800, mobile: bool = False, scale: float = 1.0
    ) -> Page:
        created = await self.send("Target.createTarget", {"url": "about:blank"})
        target_id = created["targetId"]
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target_id, "flatten": True}
        )
        page = Page(self, target_id, attached["sessionId"])
        self._pages[page.session_id] = page
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile},
        )
        if mobile:
            await page.send("Emulation.setTouchEmulationEnabled", {"enabled": True})
        return page

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if "id" in data:
                    future = self._pending.get(data["id"])
                    if future is not None and not future.done():
                        if "error" in data:
                            future.set_exception(BrowserError(str(data["error"])))
                        else:
                            future.set_result(data.get("result", {}))
                    continue
                self._on_event(data)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("DevTools connection closed"))

    def _on_event(self, data: dict[str, Any]) -> None:
        method = data.get("method", "")
        session_id = data.get("sessionId")
        params = data.get("params", {})
        page = self._pages.get(session_id) if session_id else None
        if page is not None and method == "Runtime.consoleAPICalled":
            text = " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])
            )
            page.console.append(f"{params.get('type')}: {text}")
        if page is not None and method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            page.errors.append(
                details.get("exception", {}).get("description") or details.get("text", "")
            )
        for waiter in list(self._waiters):
            wanted, wanted_session, future = waiter
            if wanted == method and wanted_session in (None, session_id):
                self._waiters.remove(waiter)
                if not future.done():
                    future.set_result(params)

    async def close(self) -> None:
        for page in list(self._pages.values()):
            await page.close()
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._http.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[ChromiumProcess]:
    """One headless chromium for the whole session, with a throw-away profile."""
    binary = find_chromium()
    if binary is None:
        missing_service("chromium is not installed (apt-get install -y chromium)")
        raise AssertionError("unreachable")
    with tempfile.TemporaryDirectory(prefix="vcorch-chromium-") as profile:
        process = ChromiumProcess.start(binary, Path(profile))
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture
async def browser(chromium: ChromiumProcess) -> AsyncIterator[Browser]:
    """A DevTools connection for one test; its pages are closed afterwards."""
    connected = await Browser.connect(chromium.ws_url)
    try:
        yield connected
    finally:
        await connected.close()
