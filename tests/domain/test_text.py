"""Free text people type: what shows nothing is empty (issue 23 item 7)."""

from __future__ import annotations

import pytest

from domain.errors import InvalidValue
from domain.text import optional_text, reason_text, required_text

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200b\u200c\u200d",  # zero-width space, non-joiner, joiner
    "\u2060\ufeff",  # word joiner, byte-order mark
    "\u00ad",  # soft hyphen
    " \u200e\u200f ",  # direction marks between spaces
    "\u3000\u200b",  # ideographic space
]


@pytest.mark.parametrize("text", INVISIBLE)
def test_a_text_of_only_invisible_characters_is_refused_like_an_empty_one(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        required_text("title", text, 200)
    assert refused.value.field == "title" and "empty" in refused.value.message
    assert optional_text("description", text, 200) is None
    with pytest.raises(InvalidValue, match="a reason is required"):
        reason_text(text, "rejecting")


@pytest.mark.parametrize("text", ["电梯\u200b坏了", "👨\u200d👩\u200d👧", "soft\u00adhyphen", "a"])
def test_visible_text_keeps_its_invisible_characters(text: str) -> None:
    assert required_text("title", text, 200) == text
