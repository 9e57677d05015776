"""Parsing XML that comes from the network.

Cisco Meeting Server sends plain XML without document type declarations; anything that
carries one is refused before parsing, so entity tricks never reach the parser.  (Python's
expat also bounds entity expansion and ElementTree never fetches external entities.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


class XmlError(ValueError):
    """The body is not well-formed XML, or holds a declaration we refuse."""


def parse_xml(body: bytes | str) -> ET.Element:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise XmlError("document type declarations are not accepted")
    try:
        return ET.fromstring(raw)  # noqa: S314 -- screened above: no DTD, no entities
    except ET.ParseError as err:
        raise XmlError(f"not well-formed XML ({err})") from err


def text_of(element: ET.Element, tag: str) -> str | None:
    """Stripped text of the first child ``tag``, ``None`` when absent."""
    child = element.find(tag)
    if child is None or child.text is None:
        return None if child is None else ""
    return child.text.strip()


def bool_of(element: ET.Element, tag: str) -> bool | None:
    value = text_of(element, tag)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise XmlError(f"<{tag}> is not a boolean: {value[:40]!r}")
