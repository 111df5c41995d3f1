"""The supervisors' figures: the three rates of 接诉即办 and the rest of
DESIGN 3.4, computed from the case views. Pure functions of view rows.

How each figure is computed (the README repeats this):

* A need belongs to the month (in the deployment's time zone) in which it was
  accepted, and to the party it is assigned to now. Needs never accepted
  (still reported, or rejected, merged or withdrawn before acceptance) are in
  no figure but the count of registrations.
* Response rate (响应率) = needs acknowledged within the response limit
  ÷ needs whose response is settled, among needs assigned to a party. A
  response is due only while the party still has the need: it is settled
  when acknowledged, or when the response deadline passed while the party
  still had the need (for a need since transferred or withdrawn, the deadline
  came before it left the party). A need withdrawn or transferred before its
  deadline, unacknowledged, is in neither count.
* Resolution rate (解决率) = needs resolved (status resolved or closed after
  resolution) ÷ needs whose resolution is due (resolved, or the resolution
  deadline has passed), leaving out needs transferred, withdrawn, rejected
  or merged (``NOT_THE_PARTYS``), which are not the party's to resolve.
* Satisfaction rate (满意率) = needs whose latest evaluation is satisfied or
  basically satisfied ÷ needs evaluated at least once.
* Overdue open = open needs past their response or resolution deadline now.
* Redos = unsatisfied evaluations that reopened a need (sum of redo counts).
* Median hours to respond / resolve: from acceptance to the first
  acknowledgement / to the (latest) resolution.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from application.projections import is_overdue
from application.readmodel import Row, utc_text
from domain.errors import InvalidValue

# Final statuses in which a need left the party without being resolved.
NOT_THE_PARTYS = frozenset({"transferred", "withdrawn", "rejected", "merged"})
RESOLVED = {"resolved", "closed"}
SATISFIED = {"satisfied", "basically_satisfied"}


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": round(numerator / denominator, 4) if denominator else None,
    }


def _local_month(text: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(text).astimezone(zone).strftime("%Y-%m")


def _hours(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)) / timedelta(hours=1)


def _response_settled(row: Row, now_text: str) -> bool:
    """Acknowledged, or the response deadline passed while the party still had the need."""
    if row["responded_at"] is not None:
        return True
    due = row["respond_due"]
    if not due or due >= now_text:
        return False
    if row["status"] in NOT_THE_PARTYS:
        # It left the party (``closed_at``): late only if the deadline came first.
        return row["closed_at"] is not None and due < row["closed_at"]
    return True


def need_figures(rows: Iterable[Row], now: datetime) -> dict[str, Any]:
    now_text = utc_text(now)
    assert now_text is not None
    accepted = response_settled = responded_in_time = 0
    resolution_due = resolved = resolved_in_time = 0
    evaluated = satisfied = overdue = redos = 0
    to_respond: list[float] = []
    to_resolve: list[float] = []
    for row in rows:
        accepted += 1
        redos += row["redo_count"]
        if is_overdue(row, now):
            overdue += 1
        if row["evaluation"] is not None:
            evaluated += 1
            satisfied += row["evaluation"] in SATISFIED
        if row["assigned_party_id"] is not None:
            if _response_settled(row, now_text):
                response_settled += 1
                responded_in_time += bool(row["responded_within_limit"])
            if row["responded_at"] is not None:
                to_respond.append(_hours(row["accepted_at"], row["responded_at"]))
        if row["status"] in NOT_THE_PARTYS:
            continue
        is_resolved = row["status"] in RESOLVED and row["outcome"] is not None
        if is_resolved or (row["resolve_due"] and row["resolve_due"] < now_text):
            resolution_due += 1
            resolved += is_resolved
            resolved_in_time += is_resolved and bool(row["resolved_within_limit"])
        if is_resolved and row["resolved_at"]:
            to_resolve.append(_hours(row["accepted_at"], row["resolved_at"]))
    return {
        "accepted": accepted,
        "response_rate": ratio(responded_in_time, response_settled),
        "resolution_rate": ratio(resolved, resolution_due),
        "resolved_within_limit": resolved_in_time,
        "satisfaction_rate": ratio(satisfied, evaluated),
        "overdue_open": overdue,
        "redos": redos,
        "median_hours_to_respond": round(median(to_respond), 2) if to_respond else None,
        "median_hours_to_resolve": round(median(to_resolve), 2) if to_resolve else None,
    }


def grouped_figures(
    rows: Iterable[Row], now: datetime, zone: ZoneInfo, months: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Figures per compound, per party and per month (and per all three)."""
    by: dict[str, dict[tuple[str, ...], list[Row]]] = {
        "compound": defaultdict(list),
        "party": defaultdict(list),
        "month": defaultdict(list),
        "compound_party_month": defaultdict(list),
    }
    for row in rows:
        if row["accepted_at"] is None:
            continue
        month = _local_month(row["accepted_at"], zone)
        if months is not None and month not in months:
            continue
        party = row["assigned_party_id"] or "unassigned"
        by["compound"][(row["compound_id"],)].append(row)
        by["party"][(party,)].append(row)
        by["month"][(month,)].append(row)
        by["compound_party_month"][(row["compound_id"], party, month)].append(row)
    keys = {
        "compound": ("compound_id",),
        "party": ("party_id",),
        "month": ("month",),
        "compound_party_month": ("compound_id", "party_id", "month"),
    }
    return {
        group: [
            {**dict(zip(keys[group], key, strict=True)), **need_figures(members, now)}
            for key, members in sorted(table.items())
        ]
        for group, table in by.items()
    }


def coverage(compound: Row, visits: Iterable[Row], month: str) -> list[dict[str, Any]]:
    """Households visited out of households, per building, in one month."""
    visited = {v["household_id"] for v in visits if v["period"] == month}
    result = []
    for building in compound["buildings"]:
        households = [h for h in compound["households"] if h["building_id"] == building["id"]]
        seen = [h for h in households if h["id"] in visited]
        missing = [
            {"household_id": h["id"], "number": h["number"]}
            for h in households
            if h["id"] not in visited
        ]
        result.append(
            {
                "compound_id": compound["id"],
                "building_id": building["id"],
                "building": building["name"],
                "month": month,
                "households": len(households),
                "visited": len(seen),
                "coverage": ratio(len(seen), len(households)),
                "not_visited": missing,
            }
        )
    return result


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (``YYYY-MM``), inclusive."""
    try:
        start = date.fromisoformat(first + "-01")
        end = date.fromisoformat(last + "-01")
        months = []
        while start <= end:
            months.append(start.strftime("%Y-%m"))
            start = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    except (ValueError, OverflowError):
        raise InvalidValue("month_from", "months run from 0001-01 to 9999-11") from None
    return months
