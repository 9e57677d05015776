"""An invitee's name is only a name (issue 16, finding 9): ``"Evil" <x1@evil.example>``,
``Trần, Lê`` or ``A \\ B`` reach the invitee's own address, quoted, and nobody else."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import Api, make_settings
from tests.booking.test_booking_api import meeting
from tests.smtp import SmtpServer
from tests.world import World
from vcorch.config import Settings
from vcorch.web.keys import OUTBOX

NAMES = [
    '"Evil" <x1@evil.example>',
    "Nguyễn <Văn> A",
    'Trần, Lê "Bí thư"',
    "A \\ B",
    "<>",
]


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer) -> Settings:
    return make_settings(database_url, smtp_host="127.0.0.1", smtp_port=smtp.port)


@pytest.mark.parametrize("name", NAMES)
async def test_a_name_with_brackets_or_quotes_still_gets_the_invitation(
    api: Api, world: World, smtp: SmtpServer, name: str
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    body: dict[str, Any] = meeting(world, invited=[{"email": "khach@example.org", "name": name}])
    status, created = await sec.post("/api/meetings", body)
    assert status == 201, created
    outbox = api.client.server.app[OUTBOX]
    assert await outbox.run_once() == 1
    [(envelope, message)] = smtp.inbox.parsed()
    assert envelope == ["khach@example.org"]  # and not x1@evil.example
    [to] = message["To"].addresses
    assert to.addr_spec == "khach@example.org"
    assert to.display_name == name
