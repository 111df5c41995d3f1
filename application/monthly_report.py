"""The monthly circulated report (月度通报; DESIGN 2.5, 3.4 and 3.6): per
compound and month, what the parties did, in one plain document that the
API answers as JSON and renders as a printable page and a PDF.

What it holds, and how each part is counted:

* **The three rates per party** (响应率, 办结率, 解决率 and 满意率), with
  their numerators and denominators, overdue and redo counts: the figures of
  ``application.figures`` for the needs accepted in the month (by the same
  rules as ``GET /stats`` and the assessments), for every party registered
  in the compound (a party that had no need shows none) and for needs no
  party had (未派单). Beside each, ``adjusted``: without the needs a
  supervisor left out of a party's assessment (不纳入考评).
* **Service fulfilment per item** (服务清单履约): each service list of the
  compound with ``application.commitment_views.fulfilment``, as of the
  report's making (inspections are kept as counters per item, not per
  month, so this part is cumulative, and says so).
* **Consultations** (协商议事): those proposed, concluded, published or
  closed in the month, with their outcomes, and the count per outcome.
* **Visit coverage** (入户摸排覆盖率): households visited in the month out of
  households, per building and in total.
* **Two-way evaluations** (双向评价): residents' evaluations of each party's
  handling (满意 / 基本满意 / 不满意, of the needs accepted in the month), and
  the providers' evaluations of the compound's side of the needs they
  resolved (协调配合, 居民配合; ``providers_evaluations``).
* **The closed assessment** (月度考评), when a supervisor closed the month:
  when, at which log position, and the recorded (adjusted) rates per party.

Everything shown to a reader is named, not numbered: compounds and parties
by name, codes by their Chinese label, times in the deployment's zone. The
ids stay beside the names for programs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from application.commitment_views import fulfilment
from application.figures import (
    SATISFIED,
    UNASSIGNED,
    coverage,
    episodes_of,
    grouped_figures,
    ratio,
)
from application.labels import label
from application.readmodel import Row
from domain.calendar import WorkingCalendar
from domain.errors import InvalidValue
from domain.times import FIRST_YEAR, LAST_YEAR

UNASSIGNED_ZH = "未派单"
PARTY_ORDER = ("party_branch", "owners_committee", "property_company", "co_building_unit")
RATES = ("response_rate", "resolution_rate", "confirmed_resolution_rate", "satisfaction_rate")
RATE_LABELS_ZH = {
    "response_rate": "响应率",
    "resolution_rate": "办结率",
    "confirmed_resolution_rate": "解决率",
    "satisfaction_rate": "满意率",
}
COUNTS = ("accepted", "resolved_within_limit", "overdue_open", "redos")
EVALUATIONS = ("satisfied", "basically_satisfied", "unsatisfied")


class ReportViews(Protocol):
    """What the report reads of the case views (``infrastructure.views``)."""

    def iter_needs(self, page_size: int = 1000, **filters: Any) -> Iterable[Row]: ...

    def iter_cases(
        self, case_type: str, compound_ids: list[str] | None, **filters: Any
    ) -> Iterable[Row]: ...

    def needs_citing(self, commitment_id: str) -> list[Row]: ...


# ----- the month ------------------------------------------------------------------------


def this_month(now: datetime, zone: ZoneInfo) -> str:
    return now.astimezone(zone).strftime("%Y-%m")


def last_month(now: datetime, zone: ZoneInfo) -> str:
    """The month before this one: the report one asks for by default."""
    year, month = map(int, this_month(now, zone).split("-"))
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"{year:04d}-{month:02d}"


def check_report_month(month: str, now: datetime, zone: ZoneInfo) -> str:
    """A month that has begun: a month that has ended, or this one (its
    report then says it is so far)."""
    if not FIRST_YEAR <= int(month[:4]) <= LAST_YEAR:
        raise InvalidValue("month", f"months run from {FIRST_YEAR}-01 to {LAST_YEAR}-12")
    if month > this_month(now, zone):
        raise InvalidValue("month", f"{month} has not begun yet")
    return month


def month_zh(month: str) -> str:
    return f"{int(month[:4])}年{int(month[5:])}月"


def _local(text: str | None, zone: ZoneInfo) -> str | None:
    """A stored UTC time as people of the deployment read it: ``2026-11-02 10:00``."""
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _in_month(text: str | None, month: str, zone: ZoneInfo) -> bool:
    return bool(text) and datetime.fromisoformat(text).astimezone(zone).strftime("%Y-%m") == month  # type: ignore[arg-type]


# ----- the parts ----------------------------------------------------------------------


def _figures(group: Row | None) -> Row:
    """The rates and counts of one group, zero when it had no need."""
    if group is None:
        empty = {name: ratio(0, 0) for name in RATES}
        return {**empty, **dict.fromkeys(COUNTS, 0)}
    return {name: group[name] for name in (*RATES, *COUNTS)}


def _party_order(party: Row) -> tuple[int, str]:
    kind = party["kind"]
    return (PARTY_ORDER.index(kind) if kind in PARTY_ORDER else len(PARTY_ORDER), party["name"])


def party_figures(parties: list[Row], groups: dict[str, list[Row]], compound_id: str) -> list[Row]:
    """Every party of the compound with its figures of the month, then the
    needs no party had (when there were some)."""
    per_party = {
        g["party_id"]: g for g in groups["compound_party_month"] if g["compound_id"] == compound_id
    }
    rows = []
    for party in sorted(parties, key=_party_order):
        group = per_party.get(party["id"])
        rows.append(
            {
                "party_id": party["id"],
                "party": party["name"],
                "kind": party["kind"],
                "kind_zh": label("party_kind", party["kind"]),
                **_figures(group),
                "adjusted": _figures(group["adjusted"] if group else None),
            }
        )
    unassigned = per_party.get(UNASSIGNED)
    if unassigned is not None:
        rows.append(
            {
                "party_id": UNASSIGNED,
                "party": UNASSIGNED_ZH,
                "kind": None,
                "kind_zh": None,
                **_figures(unassigned),
                "adjusted": _figures(unassigned["adjusted"]),
            }
        )
    return rows


def residents_evaluations(
    needs: list[Row], parties: list[Row], month: str, zone: ZoneInfo
) -> list[Row]:
    """Residents' evaluations of each party's handling of the needs accepted
    in the month: each evaluation counts for the episode it judged."""
    counts: dict[str, dict[str, int]] = {
        p["id"]: dict.fromkeys(EVALUATIONS, 0) for p in parties
    }
    for row in needs:
        if not _in_month(row.get("accepted_at"), month, zone):
            continue
        for episode in episodes_of(row):
            evaluation = episode.get("evaluation")
            if evaluation in EVALUATIONS:
                per = counts.setdefault(episode["party_id"], dict.fromkeys(EVALUATIONS, 0))
                per[evaluation] += 1
    names = {p["id"]: p["name"] for p in parties}
    rows = []
    for party in sorted(parties, key=_party_order):
        per = counts[party["id"]]
        evaluated = sum(per.values())
        satisfied = sum(per[e] for e in SATISFIED)
        rows.append(
            {
                "party_id": party["id"],
                "party": names[party["id"]],
                **per,
                "evaluated": evaluated,
                "satisfaction_rate": ratio(satisfied, evaluated),
            }
        )
    return rows


# The two aspects of the compound's side a provider evaluates (DESIGN 2.5).
COMPOUND_SIDE_ASPECTS = (("coordination", "协调配合"), ("cooperation", "居民配合"))


def providers_evaluations(
    two_way: list[Row], parties: list[Row], compound_id: str, month: str
) -> list[Row]:
    """The other direction of 双向评价: each provider's (property company's,
    co-building unit's) evaluations of the compound's side of the needs it
    resolved that were accepted in the month, one row per aspect
    (coordination 协调配合, residents' cooperation 居民配合), from the
    figures' ``two_way`` entries. Providers that evaluated nothing are left out."""
    names = {p["id"]: p["name"] for p in parties}
    order = {p["id"]: i for i, p in enumerate(sorted(parties, key=_party_order))}
    rows = []
    for entry in sorted(two_way, key=lambda e: order.get(e["party_id"], len(order))):
        side = entry["compound_side"]
        if entry["compound_id"] != compound_id or entry["month"] != month or not side["evaluated"]:
            continue
        for aspect, aspect_zh in COMPOUND_SIDE_ASPECTS:
            counts = side[aspect]
            rows.append(
                {
                    "party_id": entry["party_id"],
                    "party": names.get(entry["party_id"], entry["party_id"]),
                    "aspect": aspect,
                    "aspect_zh": aspect_zh,
                    **{code: counts[code] for code in EVALUATIONS},
                    "evaluated": counts["evaluated"],
                    "satisfaction_rate": counts["satisfaction_rate"],
                }
            )
    return rows


def fulfilment_of_lists(
    lists: Iterable[tuple[Row, list[Row]]],
    names: dict[str, str],
    calendar: WorkingCalendar,
    now: datetime,
) -> list[Row]:
    """Each service list with its figures per item (cumulative, as of now)."""
    result = []
    for row, citing in lists:
        figures = fulfilment(row, citing, calendar, now)
        result.append(
            {
                "commitment_id": figures["commitment_id"],
                "title": figures["title"],
                "provider_party_id": figures["provider_party_id"],
                "provider": names.get(figures["provider_party_id"], "—"),
                "status": figures["status"],
                "status_zh": label("commitment_status", figures["status"]),
                "in_effect_version": figures["in_effect_version"],
                "items": figures["items"],
                "totals": figures["totals"],
            }
        )
    return result


def consultations_of_month(rows: Iterable[Row], month: str, zone: ZoneInfo) -> Row:
    """The consultations with a step in the month, and the outcomes reached in it."""
    items = []
    proposed = concluded = 0
    outcomes: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: r["proposed_at"]):
        moments = (
            row.get("proposed_at"),
            row.get("concluded_at"),
            row.get("published_at"),
            row.get("closed_at"),
        )
        if not any(_in_month(m, month, zone) for m in moments):
            continue
        proposed += _in_month(row.get("proposed_at"), month, zone)
        if _in_month(row.get("concluded_at"), month, zone) and row.get("outcome"):
            concluded += 1
            outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
        items.append(
            {
                "consultation_id": row["id"],
                "topic": row["topic"],
                "status": row["status"],
                "status_zh": label("consultation_status", row["status"]),
                "method": row.get("method"),
                "method_zh": label("method", row["method"]) if row.get("method") else None,
                "outcome": row.get("outcome"),
                "outcome_zh": label("outcome", row["outcome"]) if row.get("outcome") else None,
                "resolution": row.get("resolution"),
                "needs": len(row.get("need_ids") or []),
                "proposed_at": _local(row.get("proposed_at"), zone),
                "concluded_at": _local(row.get("concluded_at"), zone),
                "actions_done": row.get("actions_done", 0),
                "actions_total": row.get("actions_total", 0),
            }
        )
    return {
        "proposed": proposed,
        "concluded": concluded,
        "outcomes": [
            {"outcome": code, "outcome_zh": label("outcome", code), "count": count}
            for code, count in sorted(outcomes.items())
        ],
        "items": items,
    }


def visit_coverage(compound: Row, visits: list[Row], month: str) -> Row:
    buildings = coverage(compound, visits, month)
    households = sum(b["households"] for b in buildings)
    visited = sum(b["visited"] for b in buildings)
    return {
        "households": households,
        "visited": visited,
        "coverage": ratio(visited, households),
        "buildings": [
            {
                "building_id": b["building_id"],
                "building": b["building"],
                "households": b["households"],
                "visited": b["visited"],
                "coverage": b["coverage"],
            }
            for b in buildings
        ],
    }


def closed_assessment(row: Row | None, parties_now: list[Row], zone: ZoneInfo) -> Row | None:
    """The month's closed assessment, with the rates it recorded per party
    as the assessment counts them (without the excluded needs), in the
    order of the report's parties."""
    if row is None:
        return None
    names = {p["id"]: p["name"] for p in parties_now}
    order = {p["id"]: n for n, p in enumerate(sorted(parties_now, key=_party_order))}
    parties = []
    for entry in row["figures"].get("parties", []):
        party_id = entry["party_id"]
        figures = entry.get("adjusted", entry)
        parties.append(
            {
                "party_id": party_id,
                "party": UNASSIGNED_ZH if party_id == UNASSIGNED else names.get(party_id, "—"),
                **{name: figures[name] for name in (*RATES, *COUNTS) if name in figures},
            }
        )
    parties.sort(key=lambda p: order.get(p["party_id"], len(order)))
    return {
        "assessment_id": row["id"],
        "closed_at": _local(row["computed_at"], zone),
        "position": row["position"],
        "parties": parties,
    }


# ----- the report ---------------------------------------------------------------------


def compound_report(
    *,
    compound: Row,
    parties: list[Row],
    needs: list[Row],
    visits: list[Row],
    lists: list[tuple[Row, list[Row]]],
    consultations: list[Row],
    assessment: Row | None,
    month: str,
    now: datetime,
    zone: ZoneInfo,
    calendar: WorkingCalendar,
) -> Row:
    """One compound's report for ``month``: a pure function of its view rows."""
    compound_id = compound["id"]
    groups = grouped_figures(needs, now, zone, {month})
    totals = next((g for g in groups["compound"] if g["compound_id"] == compound_id), None)
    names = {p["id"]: p["name"] for p in parties}
    return {
        "compound_id": compound_id,
        "compound": compound["name"],
        "community": compound.get("community"),
        "totals": {**_figures(totals), "adjusted": _figures(totals["adjusted"] if totals else None)},
        "parties": party_figures(parties, groups, compound_id),
        "fulfilment": fulfilment_of_lists(lists, names, calendar, now),
        "consultations": consultations_of_month(consultations, month, zone),
        "visits": visit_coverage(compound, visits, month),
        "evaluations": {
            "by_residents": residents_evaluations(needs, parties, month, zone),
            "by_providers": providers_evaluations(groups["two_way"], parties, compound_id, month),
        },
        "assessment": closed_assessment(assessment, parties, zone),
    }


def monthly_report(
    views: ReportViews,
    compound_ids: list[str] | None,
    month: str,
    now: datetime,
    zone: ZoneInfo,
    calendar: WorkingCalendar,
) -> Row:
    """The report of ``month`` for each compound of ``compound_ids`` (None:
    every compound), read from the case views."""
    compounds = sorted(views.iter_cases("compound", compound_ids), key=lambda c: c["name"])
    reports = []
    for compound in compounds:
        scope = [compound["id"]]
        lists = [
            (row, views.needs_citing(row["id"]))
            for row in views.iter_cases("commitment", scope)
        ]
        assessments = [
            a for a in views.iter_cases("assessment", scope) if a.get("month") == month
        ]
        reports.append(
            compound_report(
                compound=compound,
                parties=list(views.iter_cases("party", scope)),
                needs=list(views.iter_needs(now=now, compound_ids=scope)),
                visits=list(views.iter_cases("visit", scope, periods=[month])),
                lists=lists,
                consultations=list(views.iter_cases("consultation", scope)),
                assessment=assessments[0] if assessments else None,
                month=month,
                now=now,
                zone=zone,
                calendar=calendar,
            )
        )
    local_now = now.astimezone(zone)
    return {
        "month": month,
        "month_zh": month_zh(month),
        "complete": month < this_month(now, zone),
        "generated_at": local_now.strftime("%Y-%m-%d %H:%M"),
        "timezone": str(zone),
        "compounds": reports,
    }
