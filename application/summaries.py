"""The trail's summaries as a person reads them, in zh-CN and in English.

A trail entry is rendered from its event when the trail is read
(``readmodel.history_entry``); its summary names people, parties,
households, service items and consultations by what a person knows them by,
never by an id or a code. The ids and codes stay in the entry's machine
fields (``data``, ``actor_id``, ...).

This module is pure. The infrastructure asks ``wanted(events)`` what a page
of entries names, reads it in a few batched queries (persons from the
registry, parties, compounds, consultations and service lists from the case
views, needs' titles from the need view, and, rarely, a need's earlier
assignments from the log) and hands the answers over as ``Names``. The
facts read from the case views never change once they exist (a party, a
building or a household, a list version's items, a need's title, a
consultation's topic or action item), so ``Facts`` may keep them between
reads; a person's display name may change and is read every time.

The summary of each event type is a function ``(data, words) -> str``,
registered with its case type (application/projections.py,
consultation_views.py, commitment_views.py) as ``bilingual(function)``; it
is called once per language, ``words.zh`` telling which.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from application.labels import label
from application.readmodel import utc_text

Row = dict[str, Any]

DEFAULT_TIMEZONE = ZoneInfo("Asia/Shanghai")

# ----- what a page of entries names ------------------------------------------------

# Fields whose value is a person's id (the registry names them).
PERSON_FIELDS = ("actor_id", "owner_id", "reporter_id", "speaker", "person_id")
# Events whose summary names the party that held the need when it happened
# (a need's holders are worked out from its Assigned and Evaluated events).
HOLDER_EVENTS = frozenset(
    {
        "Need.Assigned",
        "Need.Acknowledged",
        "Need.Resolved",
        "Need.Evaluated",
        "Need.ReturnedFromConsultation",
    }
)
# The need events that change who holds a need, or how many redos it had.
ASSIGNMENT_EVENTS = ("Assigned", "Evaluated")


@dataclass
class Ask:
    """What a page asks of one case of the case views (a party, a compound,
    a consultation or a service list)."""

    buildings: set[str] = field(default_factory=set)
    households: set[str] = field(default_factory=set)
    actions: set[int] = field(default_factory=set)
    versions: set[int] = field(default_factory=set)
    # The log position of the latest event that asks which version was in
    # effect when it happened (a need assigned under an item).
    position: int | None = None
    # Households of the case's compound (for a list or a consultation, whose compound is in its doc).
    compound_households: set[str] = field(default_factory=set)


@dataclass
class Wanted:
    """Everything the summaries of a page of entries name."""

    persons: set[str] = field(default_factory=set)
    cases: dict[str, Ask] = field(default_factory=dict)
    needs: set[str] = field(default_factory=set)
    # Needs whose earlier assignments must be read from the log (their first
    # event is not on the page).
    holders: set[str] = field(default_factory=set)
    # Needs whose assignments the page itself holds from their first event on.
    histories: dict[str, list[tuple[int, str | None, str | None, bool]]] = field(
        default_factory=dict
    )

    def case(self, case_id: Any) -> Ask:
        if case_id is None:
            return Ask()  # nothing to look up
        key = _id(case_id)
        ask = self.cases.get(key)
        if ask is None:
            ask = self.cases[key] = Ask()
        return ask


def _id(value: Any) -> str:
    return value if type(value) is str else str(value)


def _text_at(moment: Any) -> str | None:
    if isinstance(moment, datetime):
        return utc_text(moment)
    return moment if isinstance(moment, str) else None


def wanted(
    events: Iterable[Any], trail_case: str | None = None, positions: Iterable[int] | None = None
) -> Wanted:
    """What the summaries of ``events`` (a page of a trail, in log order, at
    ``positions`` of the log) name. ``trail_case`` is the case whose trail it
    is: the entries of other cases on it name their case (a need's title, a
    consultation's topic)."""
    want = Wanted()
    seen_first: set[str] = set()
    holder_needs: set[str] = set()
    at = iter(positions) if positions is not None else None
    for event in events:
        position = next(at, None) if at is not None else None
        name = type(event).__qualname__
        kind, _, what = name.partition(".")
        case_id = _id(event.originator_id)
        get = event.__dict__.get
        for attribute in PERSON_FIELDS:
            value = get(attribute)
            if type(value) is str and value:
                want.persons.add(value)
        if trail_case is not None and case_id != trail_case:
            if kind == "Need":
                want.needs.add(case_id)
            elif kind == "Consultation":
                want.case(case_id)
        if kind == "Need":
            _need_wants(want, event, what, case_id, get, position)
            if event.originator_version == 1:
                seen_first.add(case_id)
                want.histories[case_id] = []
            if case_id in want.histories and what in ASSIGNMENT_EVENTS:
                want.histories[case_id].append(_assignment(event))
            if name in HOLDER_EVENTS:
                holder_needs.add(case_id)
        elif kind == "Consultation":
            _consultation_wants(want, event, what, case_id, get)
        elif kind == "ServiceCommitment":
            _commitment_wants(want, event, what, case_id, get)
        elif kind == "Compound":
            ask = want.case(case_id)
            if what == "HouseholdAdded":
                ask.buildings.add(_id(get("building_id")))
        elif kind == "Party":
            pass
        elif kind == "Offer":
            if what == "Published":
                want.case(get("party_id"))
        elif kind == "HouseholdVisit":
            ask = want.case(get("compound_id"))
            ask.buildings.add(_id(get("building_id")))
            ask.households.add(_id(get("household_id")))
    want.holders = holder_needs - seen_first
    return want


def _assignment(event: Any) -> tuple[int, str | None, str | None, bool]:
    """One step of a need's assignments: (version, party id, party role, a redo)."""
    get = event.__dict__.get
    if type(event).__name__ == "Assigned":
        return (event.originator_version, _id(get("party_id")), get("party_role"), False)
    return (event.originator_version, None, None, get("evaluation") == "unsatisfied")


def assignment_history(events: Iterable[Any]) -> dict[str, list[tuple[int, str | None, str | None, bool]]]:
    """By need, the steps of its assignments (from its Assigned and Evaluated
    events, read from the log), in version order."""
    found: dict[str, list[tuple[int, str | None, str | None, bool]]] = {}
    for event in sorted(events, key=lambda e: (str(e.originator_id), e.originator_version)):
        if type(event).__name__ in ASSIGNMENT_EVENTS:
            found.setdefault(_id(event.originator_id), []).append(_assignment(event))
    return found


def _need_wants(
    want: Wanted, event: Any, what: str, case_id: str, get: Any, position: int | None
) -> None:
    if what == "Registered":
        if get("raised_by_party_id") is not None:
            want.case(get("raised_by_party_id"))
        building, household = get("building_id"), get("household_id")
        if building is not None or household is not None:
            ask = want.case(get("compound_id"))
            if building is not None:
                ask.buildings.add(_id(building))
            if household is not None:
                ask.households.add(_id(household))
    elif what == "Assigned":
        want.case(get("party_id"))
        commitment = get("commitment_id")
        if commitment is not None:
            ask = want.case(commitment)
            if position is None:
                ask.position = -1  # not known: read the list again
            elif ask.position != -1 and (ask.position is None or position > ask.position):
                ask.position = position
        offer = get("offer_id")
        if offer is not None:
            want.case(offer)
    elif what in ("ExcludedFromAssessment", "ExclusionRevoked", "CompoundSideEvaluated"):
        want.case(get("party_id"))
    elif what == "Merged":
        want.needs.add(_id(get("into_need_id")))
    elif what in ("Escalated", "ReturnedFromConsultation"):
        want.case(get("consultation_id"))


def _consultation_wants(want: Wanted, event: Any, what: str, case_id: str, get: Any) -> None:
    if what == "Proposed":
        want.needs.update(_id(n) for n in (get("need_ids") or ())[:_LISTED])
    elif what == "NeedAttached":
        want.needs.add(_id(get("need_id")))
    elif what == "Convened":
        for party in (get("invited_party_ids") or ())[:_LISTED_PARTIES]:
            want.case(party)
    elif what == "VoteCast":
        # An owner is a person, or a household without an owner person.
        owner = get("owner_id")
        if type(owner) is str:
            want.case(case_id).compound_households.add(owner)
    elif what == "ActionItemAdded":
        want.case(get("party_id"))
    elif what == "ActionItemCompleted":
        want.case(case_id).actions.add(get("number"))


def _commitment_wants(want: Wanted, event: Any, what: str, case_id: str, get: Any) -> None:
    if what == "Drafted":
        want.case(get("provider_party_id"))
    elif what == "Confirmed":
        want.case(get("party_id"))
    elif what == "OpinionRecorded":
        ask = want.case(case_id)
        if get("item_no") is not None:
            ask.versions.add(get("list_version"))
        if get("household_id") is not None:
            ask.compound_households.add(_id(get("household_id")))
    elif what == "Amended":
        ask = want.case(case_id)
        if get("removed"):
            ask.versions.add(get("based_on"))
    elif what == "ItemInspected":
        want.case(case_id).versions.add(get("list_version"))


# How many needs of a proposal, and parties invited to a meeting, a summary names.
_LISTED = 3
_LISTED_PARTIES = 10

# ----- the facts read from the case views ---------------------------------------------


@dataclass(frozen=True)
class PartyFacts:
    name: str
    kind: str | None


@dataclass(frozen=True)
class NeedFacts:
    title: str


@dataclass(frozen=True)
class OfferFacts:
    title: str


@dataclass(frozen=True)
class CompoundFacts:
    name: str
    buildings: Mapping[str, str]
    # household id -> (building id, number); only the households asked so far.
    households: Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class ConsultationFacts:
    topic: str
    compound_id: str | None
    actions: Mapping[int, str]


@dataclass(frozen=True)
class CommitmentFacts:
    title: str
    compound_id: str | None
    # list version -> item number -> (title, time limit)
    versions: Mapping[int, Mapping[int, tuple[str, str | None]]]
    # (took effect at, list version), in order
    effective: tuple[tuple[str, int], ...]
    # The log position up to which every event of the list is known here
    # (the views' position when the list was read, or less).
    read_through: int

    def in_effect_at(self, at: str | None) -> int | None:
        found = None
        if at is None:
            return None
        for took_effect, version in self.effective:
            if took_effect <= at:
                found = version
        return found

    def item(self, number: Any, at: str | None = None, version: Any = None) -> tuple[str, str | None] | None:
        if version is None:
            version = self.in_effect_at(at)
        items = self.versions.get(version) if isinstance(version, int) else None
        if items is not None and number in items:
            return items[number]
        # Else its latest definition among the versions that took effect.
        for _, effective in reversed(self.effective):
            items = self.versions.get(effective) or {}
            if number in items:
                return items[number]
        return None


def _items(items: Any) -> dict[int, tuple[str, str | None]]:
    found = {}
    for item in items or ():
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            found[item["number"]] = (str(item.get("title") or ""), item.get("time_limit"))
    return found


def facts_of(
    doc: Row, households: Iterable[str] = (), before: Any = None, read_through: int = 0
) -> Any:
    """What the summaries use of a case view's document, as facts; for a
    compound, only the ``households`` asked (and those ``before`` had); for a
    list, ``read_through`` is a log position the views had reached when the
    document was read."""
    case_type = doc.get("case_type")
    if case_type == "need":
        return NeedFacts(str(doc.get("title") or ""))
    if case_type == "party":
        return PartyFacts(str(doc.get("name") or ""), doc.get("kind"))
    if case_type == "offer":
        # An offer's title may change: it is read again for each page (``answers``).
        return OfferFacts(str(doc.get("title") or ""))
    if case_type == "compound":
        kept = dict(before.households) if isinstance(before, CompoundFacts) else {}
        wanted_ids = set(households)
        for household in doc.get("households") or ():
            if household.get("id") in wanted_ids:
                kept[household["id"]] = (household.get("building_id"), str(household.get("number")))
        buildings = {b["id"]: str(b.get("name") or "") for b in doc.get("buildings") or ()}
        return CompoundFacts(str(doc.get("name") or ""), buildings, kept)
    if case_type == "consultation":
        actions = {
            a["number"]: str(a.get("title") or "")
            for a in doc.get("action_items") or ()
            if isinstance(a, dict) and isinstance(a.get("number"), int)
        }
        return ConsultationFacts(str(doc.get("topic") or ""), doc.get("compound_id"), actions)
    if case_type == "commitment":
        versions = {}
        effective = []
        for version in doc.get("versions") or ():
            number = version.get("list_version")
            versions[number] = _items(version.get("items"))
            if version.get("took_effect_at"):
                effective.append((version["took_effect_at"], number))
        effective.sort()
        return CommitmentFacts(
            str(doc.get("title") or ""),
            doc.get("compound_id"),
            versions,
            tuple(effective),
            max(read_through, int(doc.get("position") or 0)),
        )
    return None


def answers(facts: Any, ask: Ask | None) -> bool:
    """Whether ``facts`` (kept from an earlier read) answer ``ask``."""
    if facts is None:
        return False
    if isinstance(facts, OfferFacts):
        return False  # an offer's title may change: read it again each time
    if ask is None:
        return True
    if isinstance(facts, CompoundFacts):
        return ask.buildings <= facts.buildings.keys() and ask.households <= facts.households.keys()
    if isinstance(facts, ConsultationFacts):
        return ask.actions <= facts.actions.keys()
    if isinstance(facts, CommitmentFacts):
        if not ask.versions <= facts.versions.keys():
            return False
        return ask.position is None or 0 <= ask.position <= facts.read_through
    return True


class Facts:
    """Facts read from the case views and need view, by case id, kept between
    reads (they never change); at most ``limit`` cases (then it starts again).
    Safe to share between threads: each read sees a case's facts whole."""

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._facts: dict[str, Any] = {}

    def get(self, case_id: str) -> Any:
        return self._facts.get(case_id)

    def put(self, case_id: str, facts: Any) -> None:
        if facts is None:
            return
        if len(self._facts) >= self.limit:
            self._facts = {}
        self._facts[case_id] = facts

    def __len__(self) -> int:
        return len(self._facts)


@dataclass
class Names:
    """The answers to a page's ``Wanted``: what its summaries name things by."""

    persons: Mapping[str, str] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    # By need: the steps of its assignments (see ``assignment_history``).
    histories: Mapping[str, list[tuple[int, str | None, str | None, bool]]] = field(
        default_factory=dict
    )
    timezone: tzinfo = DEFAULT_TIMEZONE
    trail_case: str | None = None


NO_NAMES = Names()

# ----- words ----------------------------------------------------------------------

_LOCAL: dict[tuple[str, str], str] = {}
_MEMO_SIZE = 4096


def local_time(value: Any, zone: tzinfo = DEFAULT_TIMEZONE) -> str | None:
    """A moment as the deployment's local time to the minute: ``2026-12-08 13:11``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        key = (value, str(zone))
        found = _LOCAL.get(key)
        if found is not None:
            return found
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        found = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        if len(_LOCAL) >= _MEMO_SIZE:
            _LOCAL.clear()
        _LOCAL[key] = found
        return found
    else:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


_LIMIT = re.compile(r"^\s*(\d+)\s*(wd|h|d|m)\s*$")
_LIMIT_UNITS = {
    "zh": {"h": "小时", "wd": "个工作日", "d": "天", "m": "分钟"},
    "en": {"h": "hour", "wd": "working day", "d": "day", "m": "minute"},
}


def limit_text(value: Any, lang: str = "zh") -> str | None:
    """A time limit as a person says it: ``24h`` is 24 小时 (24 hours), ``3wd``
    3 个工作日 (3 working days), ``7d`` 7 天 (7 days), ``30m`` 30 分钟."""
    match = _LIMIT.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    word = _LIMIT_UNITS["zh" if lang == "zh" else "en"][unit]
    if lang == "zh":
        return f"{amount} {word}"
    return f"{amount} {word}{'' if amount == 1 else 's'}"


def area_text(value: Any) -> str | None:
    """An area in m², as few digits as it needs: ``90``, ``89.5``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    text = f"{number.normalize():f}"
    return text


def _quote(text: str, zh: bool) -> str:
    return f"「{text}」" if zh else f"“{text}”"


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple) else 0


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Words:
    """What one entry's summary names things by, in one language."""

    __slots__ = ("zh", "lang", "names", "case_id", "version", "at", "actor_id")

    def __init__(self, names: Names, lang: str, event: Any = None) -> None:
        self.zh = lang == "zh"
        self.lang = lang
        self.names = names
        if event is None:
            self.case_id, self.version, self.at, self.actor_id = None, None, None, None
        else:
            self.case_id = _id(event.originator_id)
            self.version = event.originator_version
            self.at = _text_at(event.timestamp)
            self.actor_id = event.__dict__.get("actor_id")

    def t(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def label(self, kind: str, code: Any) -> str:
        """A code's label; in English as a word within a sentence ("household
        visit", "owners' committee"), for the labels are written as headings."""
        text = label(kind, code, self.lang)
        if not self.zh and len(text) > 1 and text[0].isupper() and not text[1].isupper():
            text = text[0].lower() + text[1:]
        return text

    def plural(self, count: Any, zh: str, en: str) -> str:
        """``3 个附件`` / ``3 attachments``, ``1 attachment``."""
        number = self.number(count)
        if self.zh:
            return f"{number} {zh}"
        return f"{number} {en}{'' if count == 1 else 's'}"

    # ----- people and parties -----

    def person(self, person_id: Any) -> str:
        name = self.names.persons.get(person_id) if type(person_id) is str else None
        return name or self.t("未登记人员", "an unregistered person")

    def speaker(self, speaker: Any) -> str:
        """Who gave an opinion: a registered person, the one who recorded it,
        or the words the recorder gave (a name, "3号楼业主代表")."""
        if type(speaker) is not str or not speaker:
            return self.person(self.actor_id)
        name = self.names.persons.get(speaker)
        if name:
            return name
        if speaker == self.actor_id or _UUID.match(speaker):
            return self.t("未登记人员", "an unregistered person")
        return speaker

    def owner(self, owner_id: Any) -> str:
        """An owner who votes: a person (``业主 李强``), or a household without an
        owner person (``1号楼 302 的业主``)."""
        name = self.names.persons.get(owner_id) if type(owner_id) is str else None
        if name:
            return self.t(f"业主 {name}", f"owner {name}")
        household = self._household(owner_id)
        if household is not None:
            return self.t(f"{household} 的业主", f"the owner of {household}")
        return self.t("未登记人员", "an unregistered person")

    def party(self, party_id: Any, kind: Any = None) -> str:
        """A party by its name; one not found, by its kind."""
        facts = self.names.facts.get(_id(party_id)) if party_id is not None else None
        if isinstance(facts, PartyFacts) and facts.name:
            return facts.name
        if kind:
            return self.t(f"{self.label('party_kind', kind)}（未登记）", f"an unregistered {self.label('party_kind', kind)}")
        return self.t("未登记的责任主体", "an unregistered party")

    def party_kind(self, party_id: Any, kind: Any = None) -> str | None:
        facts = self.names.facts.get(_id(party_id)) if party_id is not None else None
        code = facts.kind if isinstance(facts, PartyFacts) and facts.kind else kind
        return self.label("party_kind", code) if code else None

    def party_with_kind(self, party_id: Any, kind: Any = None) -> str:
        """``幸福物业（物业服务企业）``: a party's name and kind."""
        facts = self.names.facts.get(_id(party_id)) if party_id is not None else None
        if not (isinstance(facts, PartyFacts) and facts.name):
            return self.party(party_id, kind)
        kind_text = self.party_kind(party_id, kind)
        if not kind_text:
            return facts.name
        return self.t(f"{facts.name}（{kind_text}）", f"{facts.name} ({kind_text})")

    # ----- places -----

    def _compound_facts(self) -> Iterable[CompoundFacts]:
        return (f for f in self.names.facts.values() if isinstance(f, CompoundFacts))

    def _household(self, household_id: Any) -> str | None:
        if household_id is None:
            return None
        key = _id(household_id)
        for compound in self._compound_facts():
            found = compound.households.get(key)
            if found is not None:
                building_id, number = found
                building = compound.buildings.get(building_id)
                return f"{building} {number}" if building else number
        return None

    def household(self, household_id: Any) -> str:
        """``1号楼 302``: the building's name and the household's number."""
        return self._household(household_id) or self.t("未登记住户", "an unregistered household")

    def building(self, building_id: Any) -> str:
        if building_id is not None:
            key = _id(building_id)
            for compound in self._compound_facts():
                if key in compound.buildings:
                    return compound.buildings[key]
        return self.t("未登记楼栋", "an unregistered building")

    # ----- cases -----

    def need(self, need_id: Any) -> str:
        facts = self.names.facts.get(_id(need_id)) if need_id is not None else None
        if isinstance(facts, NeedFacts):
            return self.t(f"诉求{_quote(facts.title, True)}", f"the need {_quote(facts.title, False)}")
        return self.t("另一件诉求", "another need")

    def need_titles(self, need_ids: Any) -> list[str]:
        titles = []
        for need_id in need_ids if isinstance(need_ids, list | tuple) else ():
            facts = self.names.facts.get(_id(need_id))
            if isinstance(facts, NeedFacts):
                titles.append(_quote(facts.title, self.zh))
        return titles

    def topic(self, consultation_id: Any) -> str:
        """A consultation's topic, quoted; "" when not known."""
        facts = self.names.facts.get(_id(consultation_id)) if consultation_id is not None else None
        if isinstance(facts, ConsultationFacts) and facts.topic:
            return _quote(facts.topic, self.zh)
        return ""

    def action_title(self, consultation_id: Any, number: Any) -> str | None:
        facts = self.names.facts.get(_id(consultation_id)) if consultation_id is not None else None
        if isinstance(facts, ConsultationFacts):
            return facts.actions.get(number) or None
        return None

    def offer(self, offer_id: Any) -> str:
        """An offer (服务项目) by its title, quoted; "" when not known."""
        facts = self.names.facts.get(_id(offer_id)) if offer_id is not None else None
        if isinstance(facts, OfferFacts) and facts.title:
            return _quote(facts.title, self.zh)
        return ""

    def commitment(self, commitment_id: Any) -> str:
        """A service list's title in book quotes; "" when not known."""
        facts = self.names.facts.get(_id(commitment_id)) if commitment_id is not None else None
        if isinstance(facts, CommitmentFacts) and facts.title:
            return f"《{facts.title}》" if self.zh else f"“{facts.title}”"
        return ""

    def item(
        self, commitment_id: Any, number: Any, *, version: Any = None, at: str | None = None
    ) -> str:
        """``第 1 项 电梯维保`` (item 1 “电梯维保”): an item of a service list, as
        the version given (or the one in effect at ``at``) defines it."""
        facts = self.names.facts.get(_id(commitment_id)) if commitment_id is not None else None
        found = None
        if isinstance(facts, CommitmentFacts):
            found = facts.item(number, at=at, version=version)
        number_text = number if isinstance(number, int) else "?"
        if found and found[0]:
            return self.t(f"第 {number_text} 项 {found[0]}", f"item {number_text} “{found[0]}”")
        return self.t(f"第 {number_text} 项", f"item {number_text}")

    def version_items(self, commitment_id: Any, version: Any) -> Mapping[int, tuple[str, str | None]]:
        facts = self.names.facts.get(_id(commitment_id)) if commitment_id is not None else None
        if isinstance(facts, CommitmentFacts):
            return facts.versions.get(version) or {}
        return {}

    # ----- the need's holder -----

    def holder(self) -> tuple[str | None, str | None, int] | None:
        """Who held this entry's need just before its event, and how many
        redos it had had: (party id, party role, redos); None if not known."""
        history = self.names.histories.get(self.case_id or "")
        if history is None or self.version is None:
            return None
        party_id, role, redos = None, None, 0
        for version, step_party, step_role, redo in history:
            if version >= self.version:
                break
            if step_party is not None:
                party_id, role = step_party, step_role
            if redo:
                redos += 1
        return party_id, role, redos

    def holder_name(self) -> str:
        held = self.holder()
        if held is None or held[0] is None:
            return self.t("责任方", "the assigned party")
        return self.party(held[0], held[1])

    # ----- values -----

    def time(self, value: Any) -> str:
        return local_time(value, self.names.timezone) or self.t("时间不详", "an unknown time")

    def limit(self, value: Any) -> str | None:
        return limit_text(value, self.lang)

    def area(self, value: Any) -> str:
        text = area_text(value)
        return f"{text} m²" if text is not None else self.t("面积不详", "unknown area")

    def number(self, value: Any) -> str:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else "?"

    def then(self, zh: str, en: str, value: Any) -> str:
        """``zh`` or ``en`` with ``{}`` filled by ``value``; "" without a value."""
        if value is None or value == "" or value == [] or isinstance(value, bool):
            return ""
        return (zh if self.zh else en).format(value)

    @staticmethod
    def opt(text: str, value: Any) -> str:
        """``text`` with ``{}`` filled by ``value``; "" without a value."""
        if value is None or value == "" or value == [] or value == 0 or isinstance(value, bool):
            return ""
        return text.format(value)

    def count(self, value: Any) -> int:
        return _count(value)


# ----- registering ------------------------------------------------------------------

Summary = Callable[[Row, Words], str]


class Render:
    """One language's summary of one event type: ``render(data, context)``,
    where ``context`` is ``(names, event)`` (or None: nothing looked up)."""

    __slots__ = ("function", "lang")

    def __init__(self, function: Summary, lang: str) -> None:
        self.function = function
        self.lang = lang

    def __call__(self, data: Row, context: tuple[Names | None, Any] | None = None) -> str:
        names, event = context if context is not None else (None, None)
        if names is None:
            names = NO_NAMES
        words = Words(names, self.lang, event)
        text = self.function(data, words)
        if event is not None and names.trail_case is not None and words.case_id != names.trail_case:
            text = _subject(type(event).__qualname__, words) + text
        return text

    def __repr__(self) -> str:  # the name, never braces (templates are parsed for fields)
        return f"Render({getattr(self.function, '__name__', 'summary')}, {self.lang})"


def _subject(name: str, w: Words) -> str:
    """Whose event an entry of another case is: on a need's trail, its
    consultation's; on a service list's, the need's."""
    kind = name.partition(".")[0]
    if kind == "Need":
        facts = w.names.facts.get(w.case_id or "")
        if isinstance(facts, NeedFacts):
            return w.t(f"诉求{_quote(facts.title, True)}：", f"need {_quote(facts.title, False)}: ")
        return w.t("诉求：", "need: ")
    if kind == "Offer":
        title = w.offer(w.case_id)
        return w.t(f"服务项目{title}：", f"offer {title}: " if title else "offer: ")
    if kind == "Consultation":
        topic = w.topic(w.case_id)
        return w.t(f"协商议事{topic}：", f"consultation {topic}: " if topic else "consultation: ")
    return ""


def bilingual(function: Summary) -> tuple[Render, Render]:
    """A summary function, registered for zh-CN and English."""
    return Render(function, "zh"), Render(function, "en")
