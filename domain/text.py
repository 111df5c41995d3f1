"""Checks for the free text that people type into cases."""

from __future__ import annotations

import unicodedata

from domain.errors import InvalidValue

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}
# Bidirectional embeddings, overrides and isolates reorder what a reader sees
# ("Trojan Source"); marks and joiners (U+200D in emoji) stay allowed.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def required_text(field: str, value: str | None, max_length: int) -> str:
    text = optional_text(field, value, max_length)
    if text is None:
        raise InvalidValue(field, "must not be empty")
    return text


def optional_text(field: str, value: str | None, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue(field, "must be text")
    text = value.strip()
    if not text or all(_invisible(char) for char in text):
        return None  # nothing a reader would see: empty
    if len(text) > max_length:
        raise InvalidValue(field, f"must be at most {max_length} characters, got {len(text)}")
    for char in text:
        if char in _BIDI_CONTROLS or (
            char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc"
        ):
            raise InvalidValue(field, f"must not contain the control character U+{ord(char):04X}")
    return text


def _invisible(char: str) -> bool:
    """Whether ``char`` shows nothing by itself: white space, or a format
    character (Unicode category Cf: zero-width space and joiners, word joiner,
    soft hyphen, byte-order mark, direction marks)."""
    return char.isspace() or unicodedata.category(char) == "Cf"


def reason_text(value: str | None, doing: str) -> str:
    text = optional_text("reason", value, 2000)
    if text is None:
        raise InvalidValue("reason", f"a reason is required for {doing}")
    return text
