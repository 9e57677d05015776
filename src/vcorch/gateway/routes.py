"""HTTP edge of the gateways: their health and load for administrators and operators.

``GET /api/gateways`` never shows a credential (the api_secret stays in its file or
environment variable); it checks every gateway afresh so the answer is current.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from vcorch.access import Role
from vcorch.gateway.service import Gateways
from vcorch.web import ApiRoutes

GATEWAYS = web.AppKey("gateways", Gateways)

routes = ApiRoutes(tag="Gateways (WebRTC to SIP)")


class GatewayOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    api_url: str
    sip_domain: str
    bridges: list[str]
    enabled: bool
    healthy: bool | None
    version: str | None
    calls: int
    max_calls: int
    checked_at: datetime | None
    last_error: str | None


class GatewayList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[GatewayOut]


@routes.get(
    "/api/gateways",
    summary="WebRTC-to-SIP gateways: health, calls in progress, the bridges each serves",
    response=GatewayList,
    roles=(Role.ADMIN, Role.OPERATOR),
)
async def list_gateways(app: web.Application) -> GatewayList:
    gateways = app[GATEWAYS]
    await gateways.health.check_all()
    return GatewayList(
        items=[
            GatewayOut(
                name=config.name,
                api_url=config.api_url,
                sip_domain=config.sip_domain,
                bridges=list(config.bridges),
                enabled=config.enabled,
                healthy=status.healthy,
                version=status.version,
                calls=calls,
                max_calls=config.max_calls,
                checked_at=status.checked_at,
                last_error=status.last_error,
            )
            for status, config, calls in gateways.statuses()
        ]
    )
