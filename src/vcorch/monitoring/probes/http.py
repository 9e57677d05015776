"""HTTP(S) probe of a device's management interface: does it answer, and with what status."""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from vcorch.monitoring.probes.errors import InvalidAddress
from vcorch.monitoring.probes.result import ProbeResult, down, healthy, unhealthy


class HttpProbe:
    """One request to the management URL through a session the caller owns.

    Healthy when the status is below ``healthy_below`` (400: a redirect to a login page is
    a working interface).  Redirects are not followed: the device itself is being judged,
    not where it points.  ``verify_tls=False`` accepts the self-signed certificates most
    room systems ship with; verification is on unless asked otherwise.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        method: str = "GET",
        healthy_below: int = 400,
        verify_tls: bool = True,
    ) -> None:
        if method not in ("GET", "HEAD"):
            raise ValueError("the HTTP probe sends GET or HEAD only")
        self._session = session
        self._method = method
        self._healthy_below = healthy_below
        self._verify_tls = verify_tls

    async def probe(self, target: str, timeout: float) -> ProbeResult:  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
        try:
            url = URL(target.strip())
        except ValueError as err:
            raise InvalidAddress(f"not a URL: {target!r}") from err
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidAddress(f"not an http(s) URL: {target!r}")
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with self._session.request(
                self._method,
                url,
                timeout=aiohttp.ClientTimeout(total=timeout),
                ssl=self._verify_tls,
                allow_redirects=False,
            ) as response:
                latency_ms = (loop.time() - started) * 1000.0
                status = response.status
                detail = f"{status} {response.reason or ''}".rstrip()
        except TimeoutError:
            return down(f"timeout after {timeout:g} s")
        except aiohttp.ClientSSLError as err:
            return down(f"tls: {err}")
        except aiohttp.ClientConnectorError as err:
            if isinstance(err.os_error, ConnectionRefusedError):
                return down("refused")
            return down(f"connect failed: {err.os_error.strerror or err.os_error}")
        except aiohttp.ClientError as err:
            return down(f"http error: {type(err).__name__}: {err}")
        if status < self._healthy_below:
            return healthy(latency_ms, detail, status)
        return unhealthy(latency_ms, detail, status)
