"""Vietnamese text handling: NFC normalisation, refusal of unusable characters, search folding."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

_ALLOWED_CONTROLS = {"\n", "\t"}


def clean_text(value: str) -> str:
    """NFC-normalise and refuse what cannot be stored or shown safely.

    Lone surrogates (``"\\ud800"`` in JSON) cannot be encoded as UTF-8 and control
    characters break e-mail headers and CSV exports, so both are refused here, once.
    """
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise ValueError("contains an unpaired surrogate (malformed Unicode)")
        if category == "Cc" and char not in _ALLOWED_CONTROLS:
            raise ValueError(f"contains the control character U+{ord(char):04X}")
    return unicodedata.normalize("NFC", value)


def clean_line(value: str) -> str:
    """Like :func:`clean_text`, for one-line values (names, codes): no line breaks either."""
    value = clean_text(value)
    if "\n" in value or "\t" in value:
        raise ValueError("must be a single line")
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


def fold(value: str) -> str:
    """Lower-case, accent-free form for search: "Lào Cai" and "lao cai" match."""
    decomposed = unicodedata.normalize("NFD", value.casefold())
    bare = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    return bare.replace("đ", "d")


def search_blob(*parts: str | None) -> str:
    return " ".join(fold(part) for part in parts if part)


Line = Annotated[str, StringConstraints(max_length=255), AfterValidator(clean_line)]
ShortLine = Annotated[str, StringConstraints(max_length=64), AfterValidator(clean_line)]
LongText = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(clean_text)]
Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$"),
]
