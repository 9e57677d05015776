"""HTTP(S) probe of a management interface served by a local aiohttp server."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vcorch.monitoring.probes.errors import InvalidAddress
from vcorch.monitoring.probes.http import HttpProbe


async def _ok(_request: web.Request) -> web.Response:
    return web.Response(text="web management")


async def _login_redirect(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/login")


async def _broken(_request: web.Request) -> web.Response:
    return web.Response(status=500, text="internal error")


async def _hang(_request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(text="too late")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _ok)
    app.router.add_get("/redirect", _login_redirect)
    app.router.add_get("/broken", _broken)
    app.router.add_get("/hang", _hang)
    return app


async def _serve(ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(_app(), handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner, int(runner.addresses[0][1])


@pytest.fixture
async def http_port() -> AsyncIterator[int]:
    runner, port = await _serve()
    yield port
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server context with a freshly made self-signed certificate, like a room system's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "codec.local")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.mark.parametrize(
    ("path", "ok", "status"),
    [("/", True, 200), ("/redirect", True, 302), ("/broken", False, 500), ("/missing", False, 404)],
)
async def test_status_decides_health(
    session: aiohttp.ClientSession, http_port: int, path: str, ok: bool, status: int
) -> None:
    result = await HttpProbe(session).probe(f"http://127.0.0.1:{http_port}{path}", 2.0)
    assert (result.ok, result.reachable, result.status_code) == (ok, True, status)
    assert result.detail.startswith(str(status))
    assert result.latency_ms is not None


async def test_healthy_limit_is_configurable(
    session: aiohttp.ClientSession, http_port: int
) -> None:
    strict = HttpProbe(session, healthy_below=300, method="HEAD")
    result = await strict.probe(f"http://127.0.0.1:{http_port}/redirect", 2.0)
    assert (result.ok, result.reachable, result.status_code) == (False, True, 302)


async def test_hanging_interface_times_out(session: aiohttp.ClientSession, http_port: int) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await HttpProbe(session).probe(f"http://127.0.0.1:{http_port}/hang", 0.4)
    assert (result.ok, result.reachable) == (False, False)
    assert result.detail.startswith("timeout")
    assert loop.time() - started < 1.5


async def test_closed_port_is_refused(session: aiohttp.ClientSession, closed_port: int) -> None:
    result = await HttpProbe(session).probe(f"http://127.0.0.1:{closed_port}/", 2.0)
    assert (result.reachable, result.detail) == (False, "refused")


async def test_self_signed_tls_fails_verification_unless_told_not_to_verify(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    runner, port = await _serve(_self_signed(tmp_path))
    try:
        url = f"https://127.0.0.1:{port}/"
        verified = await HttpProbe(session).probe(url, 2.0)
        unverified = await HttpProbe(session, verify_tls=False).probe(url, 2.0)
    finally:
        await runner.cleanup()
    assert (verified.ok, verified.reachable) == (False, False)
    assert verified.detail.startswith("tls:")
    assert (unverified.ok, unverified.status_code) == (True, 200)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:80", "http://"])
async def test_bad_urls_are_configuration_errors(session: aiohttp.ClientSession, url: str) -> None:
    with pytest.raises(InvalidAddress):
        await HttpProbe(session).probe(url, 1.0)
