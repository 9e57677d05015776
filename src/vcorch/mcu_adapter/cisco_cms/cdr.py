"""Call Detail Records a Cisco Meeting Server pushes to its CDR receiver.

Shape (Cisco Meeting Server CDR reference; seen in public receivers' test data): one POST
holds ``<records session="…" callBridge="…">`` with one or more
``<record type="callLegStart|callLegUpdate|callLegEnd|callStart|callEnd" time="RFC 3339"
recordIndex="n" correlatorIndex="n">`` each wrapping a ``<callLeg id="…">`` or
``<call id="…">``.  ``callLegEnd`` does not name the call; ``callLegUpdate`` carries the new
``state`` (``connected`` once media is up).  ``callLegStart`` and ``callLegUpdate`` carry
the leg's ``ownerId`` when the API set one (the CDR reference's fields, as public CDR
receivers store them, e.g. ``CdrCallLegStart``/``CdrCallLegUpdate`` models with
``ownerId`` and ``cdrTag``): vcorch's site tag.  Records of other types are ignored here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from vcorch.mcu_adapter.cisco_cms.safexml import XmlError, parse_xml, text_of

LEG_RECORDS = frozenset({"callLegStart", "callLegUpdate", "callLegEnd"})
CALL_RECORDS = frozenset({"callStart", "callEnd"})


class CdrMalformed(Exception):
    """The body is not a CDR document of the documented shape."""


@dataclass(frozen=True)
class CdrRecord:
    type: str
    time: datetime  # aware UTC
    session: str | None
    record_index: str | None
    call_id: str | None
    leg_id: str | None
    state: str | None = None
    display_name: str | None = None
    remote_address: str | None = None
    reason: str | None = None
    owner_id: str | None = None


def parse_cdr(body: bytes) -> list[CdrRecord]:
    try:
        root = parse_xml(body)
    except XmlError as err:
        raise CdrMalformed(str(err)) from err
    if root.tag != "records":
        raise CdrMalformed(f"root element is <{root.tag}>, not <records>")
    session = root.get("session")
    records: list[CdrRecord] = []
    for element in root.findall("record"):
        kind = element.get("type")
        if not kind:
            raise CdrMalformed("<record> without a type")
        if kind not in LEG_RECORDS and kind not in CALL_RECORDS:
            continue
        when = _time(element.get("time"))
        if kind in LEG_RECORDS:
            leg = element.find("callLeg")
            if leg is None or not leg.get("id"):
                raise CdrMalformed(f"{kind} record without <callLeg id>")
            records.append(
                CdrRecord(
                    type=kind,
                    time=when,
                    session=session,
                    record_index=element.get("recordIndex"),
                    call_id=text_of(leg, "call") or None,
                    leg_id=leg.get("id"),
                    state=text_of(leg, "state") or None,
                    display_name=text_of(leg, "displayName") or None,
                    remote_address=text_of(leg, "remoteAddress")
                    or text_of(leg, "remoteParty")
                    or None,
                    reason=text_of(leg, "reason") or None,
                    owner_id=text_of(leg, "ownerId") or None,
                )
            )
        else:
            call = element.find("call")
            if call is None or not call.get("id"):
                raise CdrMalformed(f"{kind} record without <call id>")
            records.append(
                CdrRecord(
                    type=kind,
                    time=when,
                    session=session,
                    record_index=element.get("recordIndex"),
                    call_id=call.get("id"),
                    leg_id=None,
                    display_name=text_of(call, "name") or None,
                )
            )
    return records


def _time(value: str | None) -> datetime:
    if not value:
        raise CdrMalformed("<record> without a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise CdrMalformed(f"record time {value[:40]!r} is not RFC 3339") from err
    if parsed.tzinfo is None:
        # The CDR reference gives times in UTC ("...Z"); a bare one is read the same way.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
