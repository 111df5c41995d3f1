"""The service commitment (服务承诺/服务清单): one provider's list for one compound.

A list is drafted by the party branch or the owners' committee for a provider
(a property company or a co-building unit). Every draft is a numbered
*list version*; residents' opinions are recorded against the pending draft
(征求意见), and a draft takes effect (公示生效) only once the party branch, the
owners' committee and the provider have each confirmed that very version.
An amendment (动态调整) makes a new list version from the latest one; it
supersedes a draft that was still pending, and the version in effect stays
in effect until the amendment is confirmed by all three. Every version is
kept, so each one stays readable.

While a version is in effect, inspections (履约检查) record whether one of its
items was met. The aggregate keeps counters, not the inspections themselves:
lists live for years and are loaded from snapshots, whose size must not grow
with the number of inspections (the trail keeps every one).

The state holds only JSON-friendly values with string keys, so that a
snapshot restores exactly the state a replay builds.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.actor import Actor, Role
from domain.calendar import TimeLimit
from domain.errors import Conflict, IllegalTransition, InvalidValue, NotPermitted
from domain.text import reason_text, required_text


class CommitmentStatus(StrEnum):
    DRAFT = "draft"
    IN_EFFECT = "in_effect"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


STATUS_LABELS_ZH = {
    CommitmentStatus.DRAFT: "草拟中（待三方确认）",
    CommitmentStatus.IN_EFFECT: "已生效",
    CommitmentStatus.SUSPENDED: "已暂停",
    CommitmentStatus.TERMINATED: "已终止",
}


class VersionState(StrEnum):
    PENDING = "pending"  # awaiting the three confirmations
    SUPERSEDED = "superseded"  # a newer draft replaced it before it took effect
    WITHDRAWN = "withdrawn"  # the list was terminated while it was pending
    IN_EFFECT = "in_effect"
    REPLACED = "replaced"  # was in effect until a newer version took effect
    ENDED = "ended"  # was in effect when the list was terminated


VERSION_STATE_LABELS_ZH = {
    VersionState.PENDING: "待确认",
    VersionState.SUPERSEDED: "已被新草案替代",
    VersionState.WITHDRAWN: "已撤销",
    VersionState.IN_EFFECT: "生效中",
    VersionState.REPLACED: "已被新版本替代",
    VersionState.ENDED: "随清单终止",
}

PROVIDER_KINDS = ("property_company", "co_building_unit")
# Who must confirm a draft before it takes effect.
CONFIRMING_PARTIES = ("party_branch", "owners_committee", "provider")
CONFIRMING_PARTY_LABELS_ZH = {
    "party_branch": "小区党支部",
    "owners_committee": "业主委员会",
    "provider": "服务提供方",
}
INSPECTION_RESULTS = ("met", "not_met")

R = Role
# Who may do what to a list (the application registers the same sets as
# permissions, and the aggregate checks them again).
DRAFTERS = frozenset({R.PARTY_BRANCH, R.OWNERS_COMMITTEE})
OPINION_RECORDERS = frozenset(
    {R.RESIDENT, R.GRID_WORKER, R.COMMUNITY_STAFF, R.PARTY_BRANCH, R.OWNERS_COMMITTEE}
)
CONFIRMERS = frozenset(
    {R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.PROPERTY_COMPANY, R.CO_BUILDING_UNIT}
)
INSPECTORS = frozenset({R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.COMMUNITY_STAFF})
OVERSEERS = frozenset({R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.COMMUNITY_STAFF})

MAX_ITEMS = 200
MAX_ITEM_NO = 1000
# The longest response time limit an item may promise: one year.
ITEM_FIELDS = ("number", "title", "standard", "frequency", "time_limit")

S = CommitmentStatus

# Commands and the statuses that allow them. ``opinion`` and ``confirm``
# also need a pending draft (see ``allowed_commands``).
TRANSITIONS: dict[str, frozenset[CommitmentStatus]] = {
    "opinion": frozenset({S.DRAFT, S.IN_EFFECT, S.SUSPENDED}),
    "confirm": frozenset({S.DRAFT, S.IN_EFFECT, S.SUSPENDED}),
    "amend": frozenset({S.DRAFT, S.IN_EFFECT, S.SUSPENDED}),
    "inspect": frozenset({S.IN_EFFECT}),
    "suspend": frozenset({S.IN_EFFECT}),
    "resume": frozenset({S.SUSPENDED}),
    "terminate": frozenset({S.DRAFT, S.IN_EFFECT, S.SUSPENDED}),
}
NEEDS_PENDING_DRAFT = frozenset({"opinion", "confirm"})


def allowed_commands(status: str, has_pending_draft: bool) -> list[str]:
    status = CommitmentStatus(status)
    return [
        name
        for name, statuses in TRANSITIONS.items()
        if status in statuses and (has_pending_draft or name not in NEEDS_PENDING_DRAFT)
    ]


# ----- items -------------------------------------------------------------------


def parse_time_limit(field: str, value: Any) -> TimeLimit:
    """A response time limit like ``24h``, ``7d`` or ``3wd``: positive, at most one year."""
    if not isinstance(value, str):
        raise InvalidValue(field, "must be text like '24h', '7d' or '3wd'")
    if value.strip().startswith("-"):
        raise InvalidValue(field, f"'{value}' must be positive")
    try:
        limit = TimeLimit.parse(value)
    except InvalidValue as error:
        raise InvalidValue(field, error.message.split(": ", 1)[-1]) from None
    return limit


def _item_no(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, "must be a whole number")
    if not 1 <= value <= MAX_ITEM_NO:
        raise InvalidValue(field, f"must be between 1 and {MAX_ITEM_NO}, got {value}")
    return value


def check_item(field: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """One item as the events store it, or InvalidValue naming the bad field."""
    if not isinstance(data, Mapping):
        raise InvalidValue(
            field, "must be an item with number, title, standard, frequency and time_limit"
        )
    unknown = sorted(set(data) - set(ITEM_FIELDS))
    if unknown:
        raise InvalidValue(f"{field}.{unknown[0]}", "is not a field of an item")
    for name in ITEM_FIELDS:
        if name not in data:
            raise InvalidValue(f"{field}.{name}", "is required")
    return {
        "number": _item_no(f"{field}.number", data["number"]),
        "title": required_text(f"{field}.title", data["title"], 200),
        "standard": required_text(f"{field}.standard", data["standard"], 2000),
        "frequency": required_text(f"{field}.frequency", data["frequency"], 100),
        "time_limit": str(parse_time_limit(f"{field}.time_limit", data["time_limit"])),
    }


def check_items(field: str, items: Any, *, allow_empty: bool = False) -> list[dict[str, Any]]:
    """A list of items with distinct numbers, sorted by number."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise InvalidValue(field, "must be a list of items")
    if not items and not allow_empty:
        raise InvalidValue(field, "a list has at least one item")
    if len(items) > MAX_ITEMS:
        raise InvalidValue(field, f"at most {MAX_ITEMS} items, got {len(items)}")
    checked: list[dict[str, Any]] = []
    seen: set[int] = set()
    for index, data in enumerate(items):
        item = check_item(f"{field}[{index}]", data)
        if item["number"] in seen:
            raise InvalidValue(
                f"{field}[{index}].number", f"item number {item['number']} appears more than once"
            )
        seen.add(item["number"])
        checked.append(item)
    return sorted(checked, key=lambda i: i["number"])


def apply_amendment(
    base: Iterable[Mapping[str, Any]],
    added: Iterable[Mapping[str, Any]],
    changed: Iterable[Mapping[str, Any]],
    removed: Iterable[int],
) -> list[dict[str, Any]]:
    """The items of a new version: ``base`` with the amendment applied, by number.

    Pure, and shared by the aggregate and the read side, so both agree.
    """
    items = {int(i["number"]): dict(i) for i in base}
    for number in removed:
        items.pop(int(number), None)
    for item in [*changed, *added]:
        items[int(item["number"])] = dict(item)
    return [items[n] for n in sorted(items)]


# ----- the aggregate ---------------------------------------------------------------


class ServiceCommitment(Aggregate):
    """One provider's service list (服务清单) for one compound, with all its versions."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Drafted(Event, Aggregate.Created):
        compound_id: UUID
        provider_party_id: UUID
        provider_kind: str
        drafter_party_id: UUID | None
        title: str
        list_version: int
        items: list[dict[str, Any]]

        def apply(self, commitment: ServiceCommitment) -> None:
            commitment.compound_id = self.compound_id
            commitment.provider_party_id = self.provider_party_id
            commitment.provider_kind = self.provider_kind
            commitment.title = self.title
            commitment.status = CommitmentStatus.DRAFT
            commitment.versions = []
            commitment.in_effect_version = None
            commitment.pending_version = None
            commitment.inspections = {}
            commitment.opinions = 0
            commitment.status_reason = None
            commitment._add_version(self, based_on=None, reason=None)

    class OpinionRecorded(Event):
        list_version: int
        text: str
        item_no: int | None
        household_id: UUID | None
        on_behalf_of_resident: bool
        # The resident's, or the owner's of the household it was recorded
        # for (domain/personal.py); None before release 0.4.
        subject_id: str | None = None

        personal_fields = ("text",)

        def apply(self, commitment: ServiceCommitment) -> None:
            commitment.opinions += 1
            commitment.version_record(self.list_version)["opinions"] += 1

    class Confirmed(Event):
        list_version: int
        confirming_as: str
        party_id: UUID

        def apply(self, commitment: ServiceCommitment) -> None:
            record = commitment.version_record(self.list_version)
            record["confirmations"][self.confirming_as] = {
                "party_id": self.party_id,
                "actor_id": self.actor_id,
                "at": self.timestamp,
            }

    class TookEffect(Event):
        list_version: int
        replaced_version: int | None

        def apply(self, commitment: ServiceCommitment) -> None:
            if self.replaced_version is not None:
                old = commitment.version_record(self.replaced_version)
                old["state"] = VersionState.REPLACED.value
                old["ended_at"] = self.timestamp
            new = commitment.version_record(self.list_version)
            new["state"] = VersionState.IN_EFFECT.value
            new["took_effect_at"] = self.timestamp
            commitment.in_effect_version = self.list_version
            commitment.pending_version = None
            if commitment.status == CommitmentStatus.DRAFT:
                commitment.status = CommitmentStatus.IN_EFFECT

    class Amended(Event):
        list_version: int
        based_on: int
        superseded_version: int | None
        drafter_party_id: UUID | None
        reason: str
        added: list[dict[str, Any]]
        changed: list[dict[str, Any]]
        removed: list[int]

        def apply(self, commitment: ServiceCommitment) -> None:
            if self.superseded_version is not None:
                old = commitment.version_record(self.superseded_version)
                old["state"] = VersionState.SUPERSEDED.value
                old["ended_at"] = self.timestamp
            commitment._add_version(self, based_on=self.based_on, reason=self.reason)

    class ItemInspected(Event):
        list_version: int
        item_no: int
        result: str
        note: str
        attachments: list[str]

        def apply(self, commitment: ServiceCommitment) -> None:
            key = str(self.item_no)
            counts = commitment.inspections.setdefault(key, {"met": 0, "not_met": 0})
            counts[self.result] += 1

    class Suspended(Event):
        reason: str

        def apply(self, commitment: ServiceCommitment) -> None:
            commitment.status = CommitmentStatus.SUSPENDED
            commitment.status_reason = self.reason

    class Resumed(Event):
        reason: str

        def apply(self, commitment: ServiceCommitment) -> None:
            commitment.status = CommitmentStatus.IN_EFFECT
            commitment.status_reason = self.reason

    class Terminated(Event):
        reason: str

        def apply(self, commitment: ServiceCommitment) -> None:
            commitment.status = CommitmentStatus.TERMINATED
            commitment.status_reason = self.reason
            if commitment.pending_version is not None:
                pending = commitment.version_record(commitment.pending_version)
                pending["state"] = VersionState.WITHDRAWN.value
                pending["ended_at"] = self.timestamp
                commitment.pending_version = None
            if commitment.in_effect_version is not None:
                current = commitment.version_record(commitment.in_effect_version)
                current["state"] = VersionState.ENDED.value
                current["ended_at"] = self.timestamp

    # The state is set by the events' apply methods (no class annotations:
    # the library would turn them into constructor arguments).

    # ----- commands -------------------------------------------------------

    @classmethod
    def draft(
        cls,
        *,
        by: Actor,
        compound_id: UUID,
        provider_party_id: UUID,
        provider_kind: str,
        title: str,
        items: Sequence[Mapping[str, Any]],
        id: UUID | None = None,  # noqa: A002 - the library's name
        now: datetime | None = None,
    ) -> ServiceCommitment:
        if by.role not in DRAFTERS:
            raise NotPermitted(
                "only the party branch or the owners' committee drafts a service list"
            )
        if provider_kind not in PROVIDER_KINDS:
            raise InvalidValue(
                "provider_party_id",
                f"a service list is for a property company or a co-building unit, "
                f"not a party of kind '{provider_kind}'",
            )
        return cls._create(
            cls.Drafted,
            id=id,
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            compound_id=compound_id,
            provider_party_id=provider_party_id,
            provider_kind=provider_kind,
            drafter_party_id=by.party_id,
            title=required_text("title", title, 200),
            list_version=1,
            items=check_items("items", items),
        )

    def record_opinion(
        self,
        *,
        by: Actor,
        text: str,
        item_no: int | None = None,
        household_id: UUID | None = None,
        list_version: int | None = None,
        household_owner_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """A resident's opinion on the pending draft (征求意见); recorded on
        behalf of a household, ``household_owner_id`` is its owner person."""
        self._check("opinion")
        if by.role not in OPINION_RECORDERS:
            raise NotPermitted(
                "residents give opinions; grid workers, community staff, the party branch "
                "and the owners' committee record them"
            )
        draft = self._pending_to_act_on("list_version", list_version)
        if item_no is not None:
            _item_no("item_no", item_no)
            if not any(i["number"] == item_no for i in draft["items"]):
                raise InvalidValue(
                    "item_no", f"item {item_no} is not in version {draft['list_version']}"
                )
        on_behalf = by.role != Role.RESIDENT
        if not on_behalf:
            household_id = by.household_id
        self._trigger(
            self.OpinionRecorded,
            by,
            now,
            list_version=draft["list_version"],
            text=required_text("text", text, 2000),
            item_no=item_no,
            household_id=household_id,
            on_behalf_of_resident=on_behalf,
            subject_id=by.id if not on_behalf else household_owner_id,
        )

    def confirm(self, *, by: Actor, list_version: int, now: datetime | None = None) -> None:
        """One of the three parties confirms the pending draft; the third makes it take effect."""
        self._check("confirm")
        confirming_as = self.confirming_as(by)
        draft = self._pending_to_act_on("list_version", list_version)
        if confirming_as in draft["confirmations"]:
            raise Conflict(
                f"the {_party_label(confirming_as)} already confirmed version "
                f"{draft['list_version']}"
            )
        assert by.party_id is not None  # confirming_as checks it
        now = now or self.Confirmed.create_timestamp()
        self._trigger(
            self.Confirmed,
            by,
            now,
            list_version=draft["list_version"],
            confirming_as=confirming_as,
            party_id=by.party_id,
        )
        if set(draft["confirmations"]) >= set(CONFIRMING_PARTIES):
            self._trigger(
                self.TookEffect,
                by,
                now,
                list_version=draft["list_version"],
                replaced_version=self.in_effect_version,
            )

    def amend(
        self,
        *,
        by: Actor,
        reason: str,
        add: Sequence[Mapping[str, Any]] = (),
        change: Sequence[Mapping[str, Any]] = (),
        remove: Sequence[int] = (),
        now: datetime | None = None,
    ) -> None:
        """A new version from the latest one (动态调整); it needs the three confirmations again."""
        self._check("amend")
        if by.role not in DRAFTERS:
            raise NotPermitted(
                "only the party branch or the owners' committee amends a service list"
            )
        reason = reason_text(reason, "amending a service list")
        base = self.latest_version
        base_no = base["list_version"]
        in_base = {i["number"]: i for i in base["items"]}
        added = check_items("add", add, allow_empty=True)
        changed = check_items("change", change, allow_empty=True)
        removed = _removals(remove)
        named: dict[int, str] = {}
        for field, numbers in (
            ("add", [i["number"] for i in added]),
            ("change", [i["number"] for i in changed]),
            ("remove", removed),
        ):
            for number in numbers:
                if number in named:
                    raise InvalidValue(
                        field, f"item {number} is also in '{named[number]}' of this amendment"
                    )
                named[number] = field
        for item in added:
            if item["number"] in in_base:
                raise InvalidValue(
                    "add",
                    f"item {item['number']} is already in version {base_no}; change it instead",
                )
        for item in changed:
            if item["number"] not in in_base:
                raise InvalidValue(
                    "change", f"item {item['number']} is not in version {base_no}; add it instead"
                )
            if item == in_base[item["number"]]:
                raise InvalidValue("change", f"item {item['number']} is unchanged")
        for number in removed:
            if number not in in_base:
                raise InvalidValue(
                    "remove", f"item {number} is not in version {base_no}, so it cannot be removed"
                )
        if not (added or changed or removed):
            raise InvalidValue("add", "an amendment adds, changes or removes at least one item")
        result = apply_amendment(base["items"], added, changed, removed)
        if not result:
            raise InvalidValue("remove", "a list keeps at least one item; terminate it instead")
        if len(result) > MAX_ITEMS:
            raise InvalidValue("add", f"a list has at most {MAX_ITEMS} items")
        self._trigger(
            self.Amended,
            by,
            now,
            list_version=len(self.versions) + 1,
            based_on=base_no,
            superseded_version=self.pending_version,
            drafter_party_id=by.party_id,
            reason=reason,
            added=added,
            changed=changed,
            removed=removed,
        )

    def inspect(
        self,
        *,
        by: Actor,
        item_no: int,
        result: str,
        note: str,
        attachments: list[str] | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record whether an item of the version in effect was met (履约检查)."""
        self._check("inspect")
        if by.role not in INSPECTORS:
            raise NotPermitted(
                "the party branch, the owners' committee or community staff inspect a service list"
            )
        _item_no("item_no", item_no)
        current = self.version_in_effect
        assert current is not None  # in effect
        if not any(i["number"] == item_no for i in current["items"]):
            raise InvalidValue(
                "item_no",
                f"item {item_no} is not in version {current['list_version']}, "
                "the version in effect",
            )
        if result not in INSPECTION_RESULTS:
            raise InvalidValue(
                "result", f"'{result}' is not one of {', '.join(INSPECTION_RESULTS)}"
            )
        self._trigger(
            self.ItemInspected,
            by,
            now,
            list_version=current["list_version"],
            item_no=item_no,
            result=result,
            note=required_text("note", note, 2000),
            attachments=_attachments(attachments),
        )

    def suspend(self, *, by: Actor, reason: str, now: datetime | None = None) -> None:
        self._overseen("suspend", by)
        self._trigger(self.Suspended, by, now, reason=reason_text(reason, "suspending a list"))

    def resume(self, *, by: Actor, reason: str, now: datetime | None = None) -> None:
        self._overseen("resume", by)
        self._trigger(self.Resumed, by, now, reason=reason_text(reason, "resuming a list"))

    def terminate(self, *, by: Actor, reason: str, now: datetime | None = None) -> None:
        self._overseen("terminate", by)
        self._trigger(self.Terminated, by, now, reason=reason_text(reason, "terminating a list"))

    # ----- queries --------------------------------------------------------

    @property
    def allowed_commands(self) -> list[str]:
        return allowed_commands(self.status, self.pending_version is not None)

    def version_record(self, list_version: int) -> dict[str, Any]:
        """The stored record of one list version (items, state, confirmations)."""
        if isinstance(list_version, bool) or not isinstance(list_version, int):
            raise InvalidValue("list_version", "must be a whole number")
        if not 1 <= list_version <= len(self.versions):
            raise InvalidValue(
                "list_version",
                f"there is no version {list_version}; the list has {len(self.versions)}",
            )
        return self.versions[list_version - 1]  # type: ignore[no-any-return]

    @property
    def latest_version(self) -> dict[str, Any]:
        return self.versions[-1]  # type: ignore[no-any-return]

    @property
    def version_in_effect(self) -> dict[str, Any] | None:
        if self.in_effect_version is None:
            return None
        return self.version_record(self.in_effect_version)

    @property
    def pending_draft(self) -> dict[str, Any] | None:
        if self.pending_version is None:
            return None
        return self.version_record(self.pending_version)

    def item_in_effect(self, item_no: int) -> dict[str, Any] | None:
        """The item of that number in the version in effect, while the list is in force."""
        current = self.version_in_effect
        if current is None or self.status != CommitmentStatus.IN_EFFECT:
            return None
        return next((dict(i) for i in current["items"] if i["number"] == item_no), None)

    def confirming_as(self, by: Actor) -> str:
        """Which of the three confirming parties ``by`` acts for, or NotPermitted."""
        if by.role in (Role.PARTY_BRANCH, Role.OWNERS_COMMITTEE):
            if by.party_id is None:
                raise NotPermitted(f"your credential names no {_party_label(str(by.role))}")
            return str(by.role)
        if by.role == self.provider_kind:
            if by.party_id != self.provider_party_id:
                raise NotPermitted("only the provider's own staff confirm for the provider")
            return "provider"
        raise NotPermitted(
            f"role '{by.role}' does not confirm service lists; the party branch, the owners' "
            "committee and the provider do"
        )

    # ----- helpers --------------------------------------------------------

    def _add_version(self, event: Any, *, based_on: int | None, reason: str | None) -> None:
        if isinstance(event, ServiceCommitment.Amended):
            items = apply_amendment(
                self.latest_version["items"], event.added, event.changed, event.removed
            )
        else:
            items = event.items
        self.versions.append(
            {
                "list_version": event.list_version,
                "state": VersionState.PENDING.value,
                "based_on": based_on,
                "reason": reason,
                "drafted_by": event.actor_id,
                "drafted_by_role": event.actor_role,
                "drafted_at": event.timestamp,
                # A copy: the state must never share a list with an event.
                "items": copy.deepcopy(list(items)),
                "confirmations": {},
                "opinions": 0,
                "took_effect_at": None,
                "ended_at": None,
            }
        )
        self.pending_version = event.list_version

    def _pending_to_act_on(self, field: str, list_version: int | None) -> dict[str, Any]:
        pending = self.pending_draft
        assert pending is not None  # _check asks for a pending draft
        if list_version is None or list_version == pending["list_version"]:
            return pending
        asked = self.version_record(list_version)
        state = asked["state"]
        if state == VersionState.SUPERSEDED:
            why = "was superseded by a later draft"
        elif state == VersionState.IN_EFFECT:
            why = "is already in effect"
        elif state == VersionState.REPLACED:
            why = "was replaced by a later version"
        else:
            why = f"is {state}"
        raise Conflict(
            f"version {list_version} {why}; version {pending['list_version']} is the draft "
            "awaiting confirmation"
        )

    def _check(self, command: str) -> None:
        if self.status not in TRANSITIONS[command]:
            raise IllegalTransition(command, self.status, self.allowed_commands)
        if command in NEEDS_PENDING_DRAFT and self.pending_version is None:
            raise IllegalTransition(
                f"{command} (no draft awaits confirmation)", self.status, self.allowed_commands
            )

    def _overseen(self, command: str, by: Actor) -> None:
        self._check(command)
        if by.role not in OVERSEERS:
            raise NotPermitted(
                f"only the party branch, the owners' committee or community staff {command} "
                "a service list"
            )

    def _trigger(
        self,
        event_class: type[ServiceCommitment.Event],
        by: Actor,
        now: datetime | None,
        **kwargs: Any,
    ) -> None:
        self.trigger_event(
            event_class, timestamp=now, actor_id=by.id, actor_role=str(by.role), **kwargs
        )


def _party_label(confirming_as: str) -> str:
    return {
        "party_branch": "party branch",
        "owners_committee": "owners' committee",
        "provider": "provider",
    }.get(confirming_as, confirming_as)


def _removals(remove: Any) -> list[int]:
    if not isinstance(remove, Sequence) or isinstance(remove, str | bytes):
        raise InvalidValue("remove", "must be a list of item numbers")
    numbers: list[int] = []
    for index, number in enumerate(remove):
        _item_no(f"remove[{index}]", number)
        if number in numbers:
            raise InvalidValue(f"remove[{index}]", f"item {number} is named twice")
        numbers.append(number)
    return sorted(numbers)


def _attachments(refs: list[str] | None) -> list[str]:
    refs = list(refs or [])
    if len(refs) > 20:
        raise InvalidValue("attachments", "at most 20 references")
    return [required_text("attachments", ref, 500) for ref in refs]

