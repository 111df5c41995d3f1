"""The personal-data mapper without a database (domain/personal.py,
infrastructure/personal_data.py): what it seals, that a destroyed key reads
as erased, that a sealed value does not open elsewhere, and who a need's
texts belong to."""

from __future__ import annotations

import os
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, StoredEvent

from application.app import Linli
from domain.actor import Actor, Role
from domain.need import Need
from domain.personal import ERASED, PersonErased
from infrastructure.personal_data import MissingKeys, PersonalDataMapper

RESIDENT = Actor("person-r", Role.RESIDENT, compound_ids=frozenset(), household_id=uuid4())
GRID = Actor("person-g", Role.GRID_WORKER, compound_ids=None)


class Keys:
    """Keys in a dict: a destroyed one is None."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes | None] = {}
        self.recalled: list[set[str]] = []

    def for_sealing(self, person_id: str) -> bytes:
        key = self.keys.setdefault(person_id, os.urandom(32))
        if key is None:
            raise PersonErased(person_id)
        return key

    def for_opening(self, person_id: str) -> bytes | None:
        return self.keys.get(person_id)

    def erased(self, person_id: str) -> None:
        self.keys[person_id] = None

    def recall(self, person_ids: object) -> None:
        self.recalled.append(set(person_ids))  # type: ignore[call-overload]


@pytest.fixture
def mapper() -> PersonalDataMapper:
    transcoder = JSONTranscoder()
    Linli.register_transcodings(Linli, transcoder)  # type: ignore[arg-type]
    built = PersonalDataMapper(transcoder=transcoder)
    built.keys = Keys()
    return built


def registered(by: Actor, **fields: object) -> Need.Registered:
    need = Need.register(
        by=by,
        compound_id=uuid4(),
        source="self_report" if by.role == Role.RESIDENT else "household_visit",
        title="楼上漏水TT1",
        description="天花板渗水DD1",
        location="卫生间",
        **fields,  # type: ignore[arg-type]
    )
    (event,) = need.collect_events()
    assert isinstance(event, Need.Registered)
    return event


def test_a_residents_texts_are_stored_sealed_and_read_back(mapper: PersonalDataMapper) -> None:
    event = registered(RESIDENT)
    assert event.subject_id == RESIDENT.id
    stored = mapper.to_stored_event(event)
    for text in ("楼上漏水TT1", "天花板渗水DD1", "卫生间"):
        assert text.encode() not in stored.state
        assert text.encode("unicode_escape") not in stored.state
    read = mapper.to_domain_event(stored)
    assert (read.title, read.description, read.location) == ("楼上漏水TT1", "天花板渗水DD1", "卫生间")
    assert read.category == event.category  # the rest as it was


def test_a_destroyed_key_reads_as_erased_and_refuses_new_text(mapper: PersonalDataMapper) -> None:
    stored = mapper.to_stored_event(registered(RESIDENT))
    mapper.keys.erased(RESIDENT.id)
    read = mapper.to_domain_event(stored)
    assert (read.title, read.description, read.location) == (ERASED, ERASED, ERASED)
    assert read.source == "self_report" and read.reporter_id == RESIDENT.id
    with pytest.raises(PersonErased):
        mapper.to_stored_event(registered(RESIDENT))


def test_a_sealed_value_moved_to_another_event_does_not_open(mapper: PersonalDataMapper) -> None:
    first = mapper.to_stored_event(registered(RESIDENT))
    second = mapper.to_stored_event(registered(RESIDENT))
    transcoder = mapper.transcoder
    moved = transcoder.decode(second.state)
    moved["title"] = transcoder.decode(first.state)["title"]
    forged = StoredEvent(second.originator_id, second.originator_version, second.topic, transcoder.encode(moved))
    assert mapper.to_domain_event(forged).title == ERASED


def test_whose_texts_a_need_holds() -> None:
    """The resident's who reports it; the household owner's when collected
    from their household; nobody's for the common parts (stored as written)."""
    household = uuid4()
    assert registered(RESIDENT).subject_id == RESIDENT.id
    assert registered(GRID, household_id=household, household_owner_id="owner-1").subject_id == "owner-1"
    assert registered(GRID, household_id=household).subject_id is None
    assert registered(GRID).subject_id is None


def test_nobodys_texts_need_no_key_and_without_a_key_store_nothing_personal_is_written() -> None:
    transcoder = JSONTranscoder()
    Linli.register_transcodings(Linli, transcoder)  # type: ignore[arg-type]
    mapper = PersonalDataMapper(transcoder=transcoder)
    assert isinstance(mapper.keys, MissingKeys)
    stored = mapper.to_stored_event(registered(GRID))
    assert mapper.transcoder.decode(stored.state)["title"] == "楼上漏水TT1"
    with pytest.raises(RuntimeError):
        mapper.to_stored_event(registered(RESIDENT))


def test_many_events_read_at_once_as_each_alone_with_their_persons_keys_asked_for_once(
    mapper: PersonalDataMapper,
) -> None:
    """``to_domain_events`` (a catch-up's batch) reads each event as
    ``to_domain_event`` does, an erased person's texts included, and asks the
    key store for the batch's persons in one call."""
    other = Actor("person-s", Role.RESIDENT, compound_ids=frozenset(), household_id=uuid4())
    events = [registered(RESIDENT), registered(other), registered(GRID), registered(RESIDENT)]
    stored = [mapper.to_stored_event(e) for e in events]
    mapper.keys.erased(other.id)
    keys = mapper.keys
    assert isinstance(keys, Keys)
    read = mapper.to_domain_events(stored)
    assert keys.recalled == [{RESIDENT.id, other.id}]  # nobody's texts need no key
    assert [vars(e) for e in read] == [vars(mapper.to_domain_event(s)) for s in stored]
    assert [e.title for e in read] == ["楼上漏水TT1", ERASED, "楼上漏水TT1", "楼上漏水TT1"]
    assert mapper.to_domain_events([]) == [] and len(keys.recalled) == 1
