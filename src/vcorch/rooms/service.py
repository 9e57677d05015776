"""Units, rooms, endpoints and site groups: the organisation every meeting is booked against.

Every method takes the acting principal and keeps to its unit scope; every write runs in
one transaction together with its audit entry.  Each part lives in its own module; the
service is their sum.
"""

from __future__ import annotations

from vcorch.rooms.base import REFERENCE_LIST_LIMIT, Listing, ReferenceFinder
from vcorch.rooms.endpoints import EndpointsPart
from vcorch.rooms.meeting_rooms import RoomsPart
from vcorch.rooms.site_groups import SiteGroupsPart
from vcorch.rooms.units import UnitsPart, insert_unit
from vcorch.rooms.views import endpoint_view, room_view, unit_view

__all__ = [
    "REFERENCE_LIST_LIMIT",
    "Listing",
    "ReferenceFinder",
    "RoomsService",
    "endpoint_view",
    "insert_unit",
    "room_view",
    "unit_view",
]


class RoomsService(UnitsPart, RoomsPart, EndpointsPart, SiteGroupsPart):
    pass
