"""``GET /metrics``: the process' Prometheus metrics, in the text exposition format.

Unauthenticated, like ``/healthz``: Prometheus scrapes it, and nothing in it names a
person, a meeting or a credential (labels are bounded: province codes, kinds, bridge
names).  Keep it off the public side of the load balancer.
"""

from __future__ import annotations

from aiohttp import web

from vcorch.web.keys import METRICS


async def metrics(request: web.Request) -> web.Response:
    exported = request.app[METRICS]
    response = web.Response(body=exported.render())
    # prometheus-client's content type carries its own parameters (version, charset).
    response.headers["Content-Type"] = exported.content_type
    return response


def mount(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
