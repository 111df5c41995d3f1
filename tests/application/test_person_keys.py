"""The store of personal-data keys on both stores (infrastructure/personal_data.py):
a catch-up's batch asks for the keys of its persons in one query."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from infrastructure.personal_data import StoredPersonKeys
from infrastructure.store import Services


class CountedReads:
    """The views, counting the reading transactions asked of them."""

    def __init__(self, views: Any) -> None:
        self.views = views
        self.reads = 0

    def reading(self) -> AbstractContextManager[Any]:
        self.reads += 1
        return self.views.reading()  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.views, name)


def test_the_keys_of_many_persons_are_read_in_one_query_then_remembered(services: Services) -> None:
    made = {f"person-{n}": services.person_keys.for_sealing(f"person-{n}") for n in range(600)}
    services.person_keys.destroy("person-1", "admin-1")
    views = CountedReads(services.views)
    keys = StoredPersonKeys(views)  # as in a process that remembers nobody yet

    keys.recall([*made, "person-without-a-key"])
    assert views.reads == 1  # 601 persons, more than one statement's worth, one transaction
    assert keys.for_opening("person-0") == made["person-0"]
    assert keys.for_opening("person-599") == made["person-599"]
    assert keys.for_opening("person-1") is None  # destroyed
    assert views.reads == 1
    keys.recall(["person-0", "person-1"])  # remembered: nothing to ask
    assert views.reads == 1
    # Nobody's key row: asked for again, as ``for_opening`` does, and still none.
    assert keys.for_opening("person-without-a-key") is None
    assert views.reads == 2
