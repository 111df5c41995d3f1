"""Open311 GeoReport v2 (DESIGN 4): needs as service requests.

What an Open311 client reads, worked out from the case views:

* services: the need categories (``service_code`` = the category code),
  the same in every compound (``jurisdiction_id`` = the compound id);
* service requests: one per need, its status ``open`` or ``closed``;
* updates (the ``servicerequestupdates`` extension): one per event of a
  need, numbered by its log position.

Who sees what is Linli's own rule, never a new one: with a credential, the
needs it may read (``need_scope`` for lists, ``can_see_need`` for one, as
``GET /needs`` and ``GET /needs/{id}`` decide); without one, every need, but
only what the public notice board may show (``application/board.py``):
category, status, dates, the responsible party (an organisation) and the
building at most; no person, no household, no text a resident or staff
wrote. The public answer is built from an explicit list of fields, never by
passing a row through and removing things.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from application.access import PERMISSIONS, can_see_need, need_scope
from application.labels import label
from application.readmodel import Row, utc_text
from domain.actor import Actor, Role
from domain.need import CATEGORIES, RAISING_ROLES, collected_from

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Linli's Open311 interface as first published; its discovery's changeset.
CHANGESET = "2026-12-07T00:00:00Z"

# Linli statuses that Open311 reads as closed; every other one is open (a
# redo or a return from consultation opens a need again).
CLOSED_STATUSES = frozenset({"resolved", "closed", "rejected", "merged", "transferred", "withdrawn"})
OPEN311_STATUSES = ("open", "closed")

# The status of a need after each of its events, where the event sets one
# (the others leave it as it was).
_STATUS_AFTER = {
    "Registered": "reported",
    "Accepted": "accepted",
    "Assigned": "assigned",
    "Acknowledged": "in_progress",
    "Resolved": "resolved",
    "Closed": "closed",
    "Rejected": "rejected",
    "Merged": "merged",
    "Transferred": "transferred",
    "Withdrawn": "withdrawn",
    "Escalated": "escalated",
    "ReturnedFromConsultation": "assigned",
}

# What an update says without a key: the event in words, nothing anyone wrote.
_PUBLIC_EVENT_WORDS = {
    "Registered": ("诉求已登记", "need registered"),
    "Accepted": ("诉求已受理", "need accepted"),
    "Assigned": ("已派单", "assigned"),
    "Acknowledged": ("责任方已响应，办理中", "the responsible party responded; in progress"),
    "Resolved": ("责任方已办结", "the responsible party reported it resolved"),
    "Evaluated": ("已回访评价", "evaluated"),
    "Closed": ("已归档", "closed"),
    "Rejected": ("不予受理", "rejected"),
    "Merged": ("已合并至另一诉求", "merged into another need"),
    "Transferred": ("已转办", "transferred to another body"),
    "Withdrawn": ("已撤回", "withdrawn"),
    "NoteAdded": ("办理进展已更新", "progress noted"),
    "DeadlineExtended": ("办理时限已延长", "deadline extended"),
    "Escalated": ("提交协商议事", "referred to a resident consultation"),
    "ReturnedFromConsultation": ("协商结束，继续办理", "back from the consultation, handled again"),
    "SupervisionNoticeIssued": ("已督办", "supervision notice issued"),
    "ExcludedFromAssessment": ("考评范围调整", "assessment scope changed"),
    "ExclusionRevoked": ("考评范围调整", "assessment scope changed"),
    "CompoundSideEvaluated": ("责任方已作双向评价", "the provider evaluated the compound's side"),
}

# At most this many requests or updates in one answer (the specification
# lets a server limit its answers); updates page on with ``after``.
MAX_ANSWER = 1000
# Without start_date and end_date, requests of the most recent 90 days (the specification's default).
DEFAULT_DAYS = 90


class Open311Error(Exception):
    """An answer in the specification's error format, with its HTTP status."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class Views(Protocol):
    def need(self, need_id: str) -> Row | None: ...

    def needs(self, *, now: datetime, limit: int, cursor: int | None = None, **filters: Any) -> tuple[list[Row], int | None]: ...

    def iter_needs(self, page_size: int = 1000, **filters: Any) -> Iterable[Row]: ...

    def case(self, case_type: str, case_id: str) -> Row | None: ...

    def history(self, case_id: str) -> list[Row]: ...


# ----- texts -----------------------------------------------------------------------------


def w3c(text: str | None) -> str | None:
    """A view's UTC time as the specification writes it: ``2026-11-02T02:00:00Z``."""
    if not text:
        return None
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_w3c(name: str, text: str | None) -> datetime | None:
    """A W3C date-time parameter (with Z or an offset); a bare date is its UTC midnight."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time like 2026-11-02T02:00:00Z") from None
    if moment.tzinfo is None:
        if len(text.strip()) > 10:
            raise Open311Error(400, f"{name} must carry a time zone (Z or an offset like +08:00)")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def open311_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def _status_words(status: str) -> str:
    return f"{label('need_status', status)} ({label('need_status', status, 'en')})"


def comma_list(name: str, text: str | None, allowed: Iterable[str] | None = None) -> list[str] | None:
    """A comma-delimited parameter's values (None when not given)."""
    if text is None or not text.strip():
        return None
    values = [v.strip() for v in text.split(",") if v.strip()]
    if allowed is not None:
        allowed = set(allowed)
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise Open311Error(400, f"{name}: unknown value {unknown[0]!r}; one of {', '.join(sorted(allowed))}")
    return values


# ----- services --------------------------------------------------------------------------


def services() -> list[Row]:
    """Every need category as a service: no extra attributes (``metadata`` false)."""
    return [
        {
            "service_code": code,
            "service_name": label("category", code),
            "description": f"{label('category', code)} ({label('category', code, 'en')})",
            "metadata": False,
            "type": "realtime",
            "keywords": code.replace("_", " "),
            "group": "诉求",
        }
        for code in CATEGORIES
    ]


def service_definition(service_code: str) -> Row:
    if service_code not in CATEGORIES:
        raise Open311Error(404, f"service_code {service_code!r} not found; GET services lists them")
    return {"service_code": service_code, "attributes": []}


def check_jurisdiction(views: Views, jurisdiction_id: str | None, actor: Actor | None = None) -> str | None:
    """The compound a ``jurisdiction_id`` names (its id text), or None when not given.
    404 when there is no such compound, or (with a key) one its credential does not cover."""
    if jurisdiction_id is None or jurisdiction_id == "":
        return None
    try:
        compound_id = UUID(jurisdiction_id)
    except ValueError:
        raise Open311Error(404, "jurisdiction_id provided was not found") from None
    if views.case("compound", str(compound_id)) is None:
        raise Open311Error(404, "jurisdiction_id provided was not found")
    if actor is not None and reads_needs(actor) and not actor.covers(compound_id):
        raise Open311Error(404, "jurisdiction_id provided was not found")
    return str(compound_id)


# ----- who reads what --------------------------------------------------------------------


def reads_needs(actor: Actor | None) -> bool:
    """Whether a credential reads needs through Linli's API (``need.read``);
    one that does not (an administrator's) reads what anyone reads."""
    return actor is not None and actor.role in PERMISSIONS["need.read"]


def scope_filters(actor: Actor | None) -> dict[str, Any]:
    """The filters of the need view that limit a list to what ``actor`` may
    read, as ``GET /needs`` applies ``need_scope``; no filter without a key."""
    if actor is None or not reads_needs(actor):
        return {}
    scope = need_scope(actor)
    compound_ids = scope.get("compound_ids")
    filters: dict[str, Any] = {
        "compound_ids": None if compound_ids is None else [str(c) for c in compound_ids],  # type: ignore[attr-defined]
        "reporter_id": scope.get("reporter_id"),
        "household_id": scope.get("household_id"),
    }
    if "assigned_party_id" in scope:
        own = scope["assigned_party_id"]
        if own is None:
            filters["assigned_party_id"] = str(UUID(int=0))  # no party: nothing
        else:
            filters["own_party_id"] = str(own)
    return filters


def may_see(actor: Actor | None, row: Row) -> bool:
    """Whether the caller sees this need at all: anyone without a key (its
    public face), a credential as ``GET /needs/{id}`` decides."""
    if actor is None or not reads_needs(actor):
        return True
    return can_see_need(
        actor,
        UUID(row["compound_id"]),
        row["reporter_id"],
        UUID(row["assigned_party_id"]) if row.get("assigned_party_id") else None,
        collected_from(UUID(row["household_id"]) if row.get("household_id") else None, row["reporter_role"]),
        UUID(row["raised_by_party_id"]) if row.get("raised_by_party_id") else None,
    )


# ----- service requests ------------------------------------------------------------------


@dataclass
class Names:
    """Organisations and places, looked up once per answer."""

    views: Views

    def __post_init__(self) -> None:
        self._cases: dict[tuple[str, str], Row | None] = {}

    def _case(self, kind: str, case_id: str) -> Row | None:
        key = (kind, case_id)
        if key not in self._cases:
            self._cases[key] = self.views.case(kind, case_id)
        return self._cases[key]

    def party(self, party_id: str | None) -> str | None:
        row = self._case("party", party_id) if party_id else None
        return row["name"] if row else None

    def building(self, row: Row) -> str | None:
        """The need's building: the one it names, else its household's."""
        compound = self._case("compound", row["compound_id"])
        if compound is None:
            return None
        building_id = row.get("building_id")
        if building_id is None and row.get("household_id"):
            for household in compound.get("households") or []:
                if household["id"] == row["household_id"]:
                    building_id = household["building_id"]
        names = [b["name"] for b in compound.get("buildings") or [] if b["id"] == building_id]
        return f"{compound['name']} {names[0]}" if names else compound["name"]


def service_request(row: Row, names: Names, personal: bool) -> Row:
    """A need as an Open311 service request. ``personal``: the caller's
    credential may read this need through Linli's API, so its texts are
    shown too; otherwise only its public face. Fields without a value are
    left out, never null."""
    status = row["status"]
    agency = names.party(row.get("assigned_party_id"))
    shown: Row = {
        "service_request_id": row["id"],
        "status": open311_status(status),
        "status_notes": _status_words(status),
        "service_name": label("category", row["category"]),
        "service_code": row["category"],
        "agency_responsible": agency,
        "requested_datetime": w3c(row["reported_at"]),
        "updated_datetime": w3c(row.get("updated_at") or row["reported_at"]),
        "expected_datetime": w3c(row.get("resolve_due")) if status not in CLOSED_STATUSES else None,
        "address": names.building(row),
    }
    if personal:
        shown["description"] = row.get("description")
        shown["status_notes"] = _notes(row) or shown["status_notes"]
        shown["address"] = row.get("location") or shown["address"]
        attachments = [a for a in row.get("attachments") or [] if str(a).startswith(("http://", "https://"))]
        if attachments:
            shown["media_url"] = attachments[-1]
    return {key: value for key, value in shown.items() if value is not None and value != ""}


def _notes(row: Row) -> str | None:
    """The latest outcome or reason, in the words its author wrote (with a key only)."""
    status = row["status"]
    words = _status_words(status)
    if status in ("resolved", "closed") and row.get("outcome"):
        return f"{words}: {row['outcome']}"
    if status in ("rejected", "withdrawn", "closed", "transferred") and row.get("final_reason"):
        return f"{words}: {row['final_reason']}"
    return None


@dataclass
class RequestQuery:
    service_request_ids: list[str] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None
    compound_id: str | None = None


def service_requests(views: Views, actor: Actor | None, query: RequestQuery, now: datetime) -> list[Row]:
    """The requests the query asks for that the caller may see, newest first."""
    names = Names(views)
    personal = reads_needs(actor)
    if query.service_request_ids is not None:
        # The ids asked for; the others' parameters are not applied (the specification).
        found = []
        for text in query.service_request_ids[:MAX_ANSWER]:
            row = one_need(views, actor, text)
            if row is not None:
                found.append(service_request(row, names, personal))
        return found
    filters = scope_filters(actor)
    if query.compound_id is not None:
        allowed = filters.get("compound_ids")
        filters["compound_ids"] = [query.compound_id] if allowed is None or query.compound_id in allowed else []
    if query.service_codes is not None:
        filters["category"] = query.service_codes
    if query.statuses is not None:
        wanted: list[str] = []
        for status in set(query.statuses):
            wanted += [s for s in _ALL_STATUSES if open311_status(s) == status]
        filters["status"] = wanted
    start, end = query.start, query.end
    if start is None and end is None:
        start = now - timedelta(days=DEFAULT_DAYS)
    filters["reported_from"] = utc_text(start)
    # end_date is inclusive: the first moment after it.
    filters["reported_to"] = utc_text(end + timedelta(microseconds=1)) if end else None
    rows, _ = views.needs(now=now, limit=MAX_ANSWER, **filters)
    return [service_request(row, names, personal) for row in rows]


_ALL_STATUSES = (
    "reported", "accepted", "assigned", "in_progress", "escalated",
    *sorted(CLOSED_STATUSES),
)


def one_need(views: Views, actor: Actor | None, service_request_id: str) -> Row | None:
    """The need a request id names, if the caller may see it."""
    try:
        need_id = str(UUID(service_request_id))
    except ValueError:
        return None
    row = views.need(need_id)
    return row if row is not None and may_see(actor, row) else None


def the_request(views: Views, actor: Actor | None, service_request_id: str) -> Row:
    row = one_need(views, actor, service_request_id)
    if row is None:
        raise Open311Error(404, f"service_request_id {service_request_id!r} not found")
    return service_request(row, Names(views), reads_needs(actor))


def token_request(views: Views, actor: Actor | None, token: str) -> Row:
    """Linli registers a need at once, so its token is its id."""
    if one_need(views, actor, token) is None:
        raise Open311Error(404, f"token {token!r} not found")
    return {"service_request_id": str(UUID(token)), "token": str(UUID(token))}


# ----- reporting a need ------------------------------------------------------------------


def title_of(description: str) -> str:
    """A need's title from an Open311 description: its first line, at most 80 characters."""
    first = next((line.strip() for line in description.splitlines() if line.strip()), "")
    return first if len(first) <= 80 else first[:79] + "…"


def source_for(actor: Actor) -> tuple[str, str | None]:
    """How a report through Open311 is registered: a resident's is their own
    report; a property company's or co-building unit's is its party's
    request of the compound; anyone else's (a platform's, a city's
    12345 hotline) is a hotline referral (12345 转办)."""
    if actor.role == Role.RESIDENT:
        return "self_report", None
    if actor.role in RAISING_ROLES:
        return "party_request", "compound"
    return "hotline", None


def building_named(views: Views, compound_id: str, address: str | None) -> str | None:
    """The compound's building whose name the address mentions (the longest), if any."""
    if not address:
        return None
    compound = views.case("compound", compound_id) or {}
    named = [b for b in compound.get("buildings") or [] if b["name"] and b["name"] in address]
    return max(named, key=lambda b: len(b["name"]))["id"] if named else None


SERVICE_NOTICE = "已登记，社区将按时限受理 (registered; the community will accept it within its time limits)"


# ----- updates ---------------------------------------------------------------------------


@dataclass
class UpdateQuery:
    start: datetime | None = None
    end: datetime | None = None
    compound_id: str | None = None
    after: int = 0


def updates(views: Views, actor: Actor | None, query: UpdateQuery, now: datetime) -> list[Row]:
    """One update per event of each need the caller may see, oldest first,
    numbered by the event's log position; at most ``MAX_ANSWER``, the
    next ones after the last ``update_id`` (``after``)."""
    personal = reads_needs(actor)
    filters = scope_filters(actor)
    if query.compound_id is not None:
        allowed = filters.get("compound_ids")
        filters["compound_ids"] = [query.compound_id] if allowed is None or query.compound_id in allowed else []
    if query.end is not None:
        filters["reported_to"] = utc_text(query.end + timedelta(microseconds=1))
    start = utc_text(query.start) if query.start else None
    end = utc_text(query.end) if query.end else None
    names = Names(views)
    found: list[Row] = []
    for row in views.iter_needs(now=now, **filters):
        # The need's last event is at ``position``: nothing new, nothing to read.
        if row["position"] <= query.after or (start and (row.get("updated_at") or "") < start):
            continue
        found.extend(
            update
            for update in _need_updates(views, row, names, personal)
            if update["update_id"] > query.after
            and (start is None or update["_at"] >= start)
            and (end is None or update["_at"] <= end)
        )
    found.sort(key=lambda u: u["update_id"])
    for update in found:
        del update["_at"]
    return found[:MAX_ANSWER]


def _need_updates(views: Views, row: Row, names: Names, personal: bool) -> Iterator[Row]:
    status = "reported"
    for entry in views.history(row["id"]):
        if entry["case_type"] != "need" or entry["case_id"] != row["id"]:
            continue  # a linked consultation's or list's event on the need's trail
        kind = entry["event_type"]
        if kind == "Evaluated":
            unsatisfied = (entry.get("data") or {}).get("evaluation") == "unsatisfied"
            status = "assigned" if unsatisfied else "closed"
        else:
            status = _STATUS_AFTER.get(kind, status)
        if personal:
            description = entry.get("summary_zh") or entry.get("summary_en") or kind
        else:
            zh, en = _PUBLIC_EVENT_WORDS.get(kind, ("诉求已更新", "need updated"))
            party = names.party((entry.get("data") or {}).get("party_id")) if kind == "Assigned" else None
            if party:  # an organisation's name, as the board shows it
                zh, en = f"{zh}：{party}", f"{en} to {party}"
            description = f"{zh} ({en})"
        yield {
            "update_id": int(entry["position"]),
            "service_request_id": row["id"],
            "status": open311_status(status),
            "updated_datetime": w3c(entry["occurred_at"]),
            "description": description,
            "_at": entry["occurred_at"],
        }
