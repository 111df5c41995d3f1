"""The public notice board (公示栏, DESIGN 3.6): what a compound publishes to
anyone holding its board link, and the link's commands.

What the board shows, read from the case views:

* the service lists in effect, their items and standards, and each item's
  fulfilment this month (inspections recorded this month; needs assigned
  under the item this month, as ``fulfilment`` counts them);
* the outcomes of consultations: the vote's participation and approval,
  by heads and by area, as exact fractions and percentages; the outcome;
  the resolution (a published decision); the action items' progress;
* the three rates of 接诉即办 (and the resolution rate confirmed by
  residents) of each party by month (``grouped_figures``, raw figures);
* household-visit coverage by building, last month and this month;
* co-building units' offers (``offers_on_board``).

Nothing personal: no person's name or id, no household's label or id, no
need's text, no opinion, no evaluation comment, no voter's choice; only
counts, parties (organisations) and buildings. The board is built from an
explicit list of fields, never by passing rows through.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from application.access import COORDINATORS, authorize, ensure_compound_visible, register_permissions
from application.commitment_views import fulfilment
from application.figures import coverage, grouped_figures, month_range
from application.base import RequestKey
from application.labels import label
from application.offers import published_offers
from application.readmodel import Row, utc_text
from application.summaries import limit_text
from domain.actor import Actor
from domain.calendar import WorkingCalendar

# Community staff and the party branch make (rotate) and read a compound's board link.
register_permissions({"board.link": COORDINATORS})

# Rates by month: this month and the five before it.
RATE_MONTHS = 6
# The consultations shown: the latest concluded ones.
MAX_CONSULTATIONS = 20
CONCLUDED = ("adopted", "rejected", "no_quorum", "agreed", "published", "closed")


class Links(Protocol):
    """The board links' registry (infrastructure/board_links.py)."""

    def rotate(self, compound_id: UUID, by: Actor, key: RequestKey | None = None) -> Any: ...

    def current(self, compound_id: UUID) -> Any: ...

    def rotations(self, compound_id: UUID) -> list[Any]: ...


class Compounds(Protocol):
    def get_compound(self, by: Actor, compound_id: UUID) -> Any: ...


def rotate_board_link(
    app: Compounds, links: Links, by: Actor, compound_id: UUID, key: RequestKey | None = None
) -> Any:
    """A new link for the compound's board; the one before it stops working.
    The token is a secret: it goes to the links' table, never to the log.
    With an idempotency ``key`` that made a link before, nothing is made again."""
    authorize(by, "board.link")
    ensure_compound_visible(by, compound_id)
    app.get_compound(by, compound_id)  # NotFound for a compound that is not there
    return links.rotate(compound_id, by, key)


def board_link_state(
    app: Compounds, links: Links, by: Actor, compound_id: UUID
) -> tuple[Any, list[Any]]:
    """The compound's current link (None before the first) and every rotation."""
    authorize(by, "board.link")
    ensure_compound_visible(by, compound_id)
    app.get_compound(by, compound_id)
    return links.current(compound_id), links.rotations(compound_id)


# ----- the board's content ---------------------------------------------------------------


class Views(Protocol):
    """What the board reads of the case views (infrastructure/views.py)."""

    def case(self, case_type: str, case_id: str) -> Row | None: ...

    def iter_cases(self, case_type: str, compound_ids: list[str] | None, **filters: Any) -> Iterable[Row]: ...

    def iter_needs(self, page_size: int = 1000, **filters: Any) -> Iterable[Row]: ...

    def needs_citing(self, commitment_id: str) -> list[Row]: ...

    def history(self, case_id: str) -> list[Row]: ...


def board(
    views: Views,
    compound_id: UUID,
    *,
    now: datetime,
    zone: ZoneInfo,
    calendar: WorkingCalendar,
) -> Row | None:
    """The compound's board, or None when there is no such compound."""
    compound = views.case("compound", str(compound_id))
    if compound is None:
        return None
    local_now = now.astimezone(zone)
    this_month = local_now.strftime("%Y-%m")
    parties = _parties(views, compound["id"])
    return {
        "compound": {
            "name": compound["name"],
            "community": compound.get("community"),
            "address": compound.get("address"),
        },
        "generated_at": local_now.isoformat(timespec="seconds"),
        "timezone": str(zone),
        "month": this_month,
        "service_lists": _service_lists(views, compound["id"], parties, now, zone, calendar),
        "consultations": _consultations(views, compound["id"], parties, local_now.date(), zone),
        "rates": _rates(views, compound["id"], parties, now, zone),
        "visit_coverage": _coverage(views, compound, this_month),
        "offers": offers_on_board(views, compound["id"], parties),
    }


def offers_on_board(views: Views, compound_id: str, parties: dict[str, Row]) -> list[Row]:
    """The co-building units' offers of service in force in the compound
    (published, not withdrawn), oldest first: what is offered, by which
    unit, when and to how many, and how many needs it has served. Nothing
    personal: no person's id, no need's id or text."""
    return [
        {
            "title": offer["title"],
            "description": offer.get("description"),
            "provider": _party(parties, offer.get("party_id")),
            "status_zh": offer.get("status_zh"),
            "category_zh": label("offer_category", offer.get("category")) if offer.get("category") else None,
            "capacity": offer.get("capacity"),
            "schedule": offer.get("schedule"),
            "starts_on": offer.get("starts_on"),
            "ends_on": offer.get("ends_on"),
            "needs_served": offer.get("needs_served") or 0,
        }
        for offer in published_offers(views, compound_id)
    ]


def _parties(views: Views, compound_id: str) -> dict[str, Row]:
    """The compound's parties by id, as the board names them: an
    organisation's name and kind, nothing about its people."""
    return {
        row["id"]: {
            "name": row["name"],
            "kind": row.get("kind"),
            "kind_zh": label("party_kind", row.get("kind")) if row.get("kind") else "—",
        }
        for row in views.iter_cases("party", [compound_id])
    }


def _party(parties: dict[str, Row], party_id: str | None) -> Row:
    return parties.get(party_id or "") or {"name": "—", "kind": None, "kind_zh": "—"}


def _local(text: str | None, zone: ZoneInfo) -> str | None:
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(zone).isoformat(timespec="seconds")


def _month_bounds(month: str, zone: ZoneInfo) -> tuple[str, str]:
    """The month's first moment and the next month's, as UTC texts."""
    start = datetime.fromisoformat(month + "-01").replace(tzinfo=zone)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    first, after = utc_text(start), utc_text(end)
    assert first is not None and after is not None
    return first, after


def _within(text: str | None, bounds: tuple[str, str]) -> bool:
    """Whether a view's time (a fixed-width UTC text: text order is time order) is within ``bounds``."""
    return text is not None and bounds[0] <= text < bounds[1]


# ----- service lists ------------------------------------------------------------------


def _service_lists(
    views: Views,
    compound_id: str,
    parties: dict[str, Row],
    now: datetime,
    zone: ZoneInfo,
    calendar: WorkingCalendar,
) -> list[Row]:
    bounds = _month_bounds(now.astimezone(zone).strftime("%Y-%m"), zone)
    lists = []
    for row in views.iter_cases("commitment", [compound_id], status=["in_effect"]):
        # This month's inspections, from the list's trail (the row keeps totals only).
        inspections: dict[str, Row] = {}
        for entry in views.history(row["id"]):
            if entry["event_type"] != "ItemInspected" or entry["case_id"] != row["id"]:
                continue
            if not _within(entry["occurred_at"], bounds):
                continue
            data = entry["data"]
            counts = inspections.setdefault(
                str(data["item_no"]), {"item_no": data["item_no"], "met": 0, "not_met": 0}
            )
            if data["result"] in ("met", "not_met"):
                counts[data["result"]] += 1
        needs = [n for n in views.needs_citing(row["id"]) if _within(n.get("assigned_at"), bounds)]
        figures = fulfilment({**row, "inspections": inspections}, needs, calendar, now)
        by_number = {f["number"]: f for f in figures["items"]}
        items = []
        for item in sorted(row["in_effect_items"], key=lambda i: i["number"]):
            counted = by_number.get(item["number"]) or {}
            items.append(
                {
                    "number": item["number"],
                    "title": item["title"],
                    "standard": item["standard"],
                    "frequency": item["frequency"],
                    "time_limit": item["time_limit"],
                    "time_limit_zh": limit_text(item["time_limit"]) or item["time_limit"],
                    "fulfilment": _fulfilment_counts(counted),
                }
            )
        lists.append(
            {
                "title": row["title"],
                "provider": _party(parties, row["provider_party_id"]),
                "status": row["status"],
                "status_zh": label("commitment_status", row["status"]),
                "list_version": row["in_effect_version"],
                "took_effect_at": _local(row.get("took_effect_at"), zone),
                "items": items,
                "totals": _fulfilment_counts(figures["totals"]),
            }
        )
    return lists


_FULFILMENT_FIELDS = (
    "inspections_met",
    "inspections_not_met",
    "needs_assigned",
    "needs_resolved",
    "needs_resolved_within_limit",
    "needs_overdue",
    "fulfilled",
    "assessed",
)


def _fulfilment_counts(counted: Row) -> Row:
    counts = {name: int(counted.get(name) or 0) for name in _FULFILMENT_FIELDS}
    counts["rate"] = counted.get("fulfilment_rate")
    return counts


# ----- consultations ----------------------------------------------------------------------


def _share(text: str | None) -> Row | None:
    """``"2/3"`` as an exact fraction and a percentage."""
    if not text:
        return None
    value = Fraction(text)
    return {
        "fraction": f"{value.numerator}/{value.denominator}",
        "numerator": value.numerator,
        "denominator": value.denominator,
        "percent": round(float(value * 100), 2),
    }


def _vote(result: Row | None) -> Row | None:
    if not result:
        return None
    participation, approval = result["participation"], result["approval"]
    return {
        "matter": result.get("matter"),
        "matter_zh": result.get("matter_zh") or label("matter", result.get("matter")),
        "owners_total": participation.get("total_owners"),
        "owners_participating": participation.get("owners_count"),
        "area_total_m2": participation.get("total_area_m2"),
        "area_participating_m2": participation.get("area_m2"),
        "participation_owners": _share(participation.get("owners")),
        "participation_area": _share(participation.get("area")),
        "quorum_reached": bool(participation.get("reached")),
        "owners_for": approval.get("for_owners"),
        "area_for_m2": approval.get("for_area_m2"),
        "approval_owners": _share(approval.get("owners")),
        "approval_area": _share(approval.get("area")),
        "approved": bool(approval.get("reached")),
        "counts": {key: int((result.get("counts") or {}).get(key) or 0) for key in ("for", "against", "abstain")},
    }


def _consultations(
    views: Views, compound_id: str, parties: dict[str, Row], today: date, zone: ZoneInfo
) -> list[Row]:
    rows = list(views.iter_cases("consultation", [compound_id], status=list(CONCLUDED)))
    rows.sort(key=lambda r: r.get("concluded_at") or "", reverse=True)
    shown = []
    for row in rows[:MAX_CONSULTATIONS]:
        outcome = row.get("outcome")
        actions = [
            {
                "number": item["number"],
                "title": item["title"],
                "party": _party(parties, item.get("party_id")),
                "due_on": item["due_on"],
                "done": bool(item["done"]),
                "completed_on": (_local(item.get("completed_at"), zone) or "")[:10] or None,
                "overdue": not item["done"] and str(item["due_on"]) < today.isoformat(),
            }
            for item in row.get("action_items") or []
        ]
        shown.append(
            {
                "topic": row["topic"],
                "method": row.get("method"),
                "method_zh": label("method", row.get("method")),
                "status": row["status"],
                "status_zh": label("consultation_status", row["status"]),
                "outcome": outcome,
                "outcome_zh": label("outcome", outcome),
                "concluded_at": _local(row.get("concluded_at"), zone),
                "resolution": row.get("resolution"),
                "published_at": _local(row.get("published_at"), zone),
                "vote": _vote(row.get("result")),
                "actions": actions,
                "actions_total": len(actions),
                "actions_done": sum(1 for a in actions if a["done"]),
            }
        )
    return shown


# ----- the rates and the visits ----------------------------------------------------------

_RATES = ("response_rate", "resolution_rate", "confirmed_resolution_rate", "satisfaction_rate")


def _rates(
    views: Views, compound_id: str, parties: dict[str, Row], now: datetime, zone: ZoneInfo
) -> list[Row]:
    local = now.astimezone(zone)
    first = local.replace(day=1)
    for _ in range(RATE_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    months = month_range(first.strftime("%Y-%m"), local.strftime("%Y-%m"))
    rows = views.iter_needs(now=now, compound_ids=[compound_id])
    figures = grouped_figures(rows, now, zone, set(months))
    shown = []
    for entry in figures["compound_party_month"]:
        if entry["compound_id"] != compound_id or entry["party_id"] not in parties:
            continue
        shown.append(
            {
                "month": entry["month"],
                "party": parties[entry["party_id"]],
                "accepted": entry["accepted"],
                **{name: dict(entry[name]) for name in _RATES},
            }
        )
    # The latest month first; in a month, the property company first, then
    # co-building units, the party branch and the owners' committee.
    kinds = ("property_company", "co_building_unit", "party_branch", "owners_committee")
    shown.sort(key=lambda r: (kinds.index(r["party"]["kind"]) if r["party"]["kind"] in kinds else 9, r["party"]["name"]))
    shown.sort(key=lambda r: r["month"], reverse=True)
    return shown


def _coverage(views: Views, compound: Row, this_month: str) -> list[Row]:
    start = datetime.fromisoformat(this_month + "-01")
    last_month = (start - timedelta(days=1)).strftime("%Y-%m")
    months = [this_month, last_month]
    visits = list(views.iter_cases("visit", [compound["id"]], periods=months))
    shown = []
    for month in months:
        for building in coverage(compound, visits, month):
            shown.append(
                {
                    "month": month,
                    "building": building["building"],
                    "households": building["households"],
                    "visited": building["visited"],
                    "rate": building["coverage"]["rate"],
                }
            )
    return shown
