"""The supervisors' figures: the three rates of 接诉即办 and the rest of
DESIGN 3.4, computed from the case views. Pure functions of view rows.

Each party is judged on its own **episodes** (DESIGN 2.1): an episode begins
each time a party gets a need (assignment, reassignment, redo, return from a
consultation) and its response and resolution limits run from that moment;
it ends when the need leaves the party (reassigned, escalated, redone,
closed, withdrawn, transferred, ...). How each figure is computed (the README
repeats this):

* A need belongs to the month (in the deployment's time zone) in which it was
  accepted. In the per-party figures it counts for every party that had an
  episode of it; needs never assigned count as ``unassigned``. Needs never
  accepted are in no figure.
* Response rate (响应率) = episodes acknowledged within their response limit
  ÷ episodes whose response is settled: acknowledged, or the response
  deadline passed while the party still had the need (before the episode
  ended, and before now). An episode that ended before its deadline,
  unacknowledged, is in neither count.
* Resolution rate (办结率) = episodes resolved ÷ episodes whose resolution is
  settled: resolved, or the resolution deadline (as extended) passed while the
  party still had the need. Episodes that ended because the need left the
  compound's hands (transferred, withdrawn, rejected, merged) are not the
  party's to resolve and are left out. ``resolved_within_limit`` counts the
  episodes resolved within their limit.
* Confirmed resolution rate (解决率, 回访) = evaluations in which the resident
  said the matter is resolved ÷ evaluations that said whether it is.
* Satisfaction rate (满意率) = episodes evaluated satisfied or basically
  satisfied ÷ episodes evaluated (each evaluation judges the episode whose
  resolution it evaluates).
* Overdue open = open needs past their current deadlines now, counted for the
  party that has them now.
* Redos = episodes begun by an unsatisfied evaluation (重办).
* Median hours to respond / resolve: from an episode's start to its
  acknowledgement / its resolution, over the episodes that have one.
* Two-way evaluations (双向评价, ``two_way``), per compound, party and month
  (of acceptance): the residents' evaluations of the party's episodes
  (counts of satisfied, basically satisfied and unsatisfied, and the
  satisfaction rate), and the party's evaluations of the compound's side of
  the closed needs it resolved (coordination 协调配合 and residents'
  cooperation 居民配合, each with its counts and its satisfaction rate:
  satisfied or basically satisfied ÷ evaluated). Raw: exclusions from a
  party's assessment do not apply to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from application.projections import is_overdue
from application.readmodel import Row, utc_text
from domain.errors import InvalidValue
from domain.times import END, EARLIEST

# How an episode ended when the need left the compound's hands unresolved.
NOT_THE_PARTYS = frozenset({"transferred", "withdrawn", "rejected", "merged"})
SATISFIED = {"satisfied", "basically_satisfied"}
UNASSIGNED = "unassigned"


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": round(numerator / denominator, 4) if denominator else None,
    }


# Each need is counted in several groups, raw and adjusted: the same times
# are read again and again (a district's month has thousands of needs).
@lru_cache(maxsize=1 << 16)
def _local_month(text: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(text).astimezone(zone).strftime("%Y-%m")


@lru_cache(maxsize=1 << 16)
def _hours(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)) / timedelta(hours=1)


def episodes_of(row: Row) -> list[Row]:
    """A need's episodes; a view row written before episodes existed has one
    made from its fields (``linli projections rebuild`` writes the real ones)."""
    if "episodes" in row:
        return row["episodes"]  # type: ignore[no-any-return]
    if row["assigned_party_id"] is None:
        return []
    ended = row["closed_at"] if row["status"] in NOT_THE_PARTYS | {"closed"} else None
    return [
        {
            "party_id": row["assigned_party_id"],
            "started_by": "assigned",
            "started_at": row["assigned_at"],
            "respond_due": row["respond_due"],
            "resolve_due": row["resolve_due"],
            "responded_at": row["responded_at"],
            "responded_within_limit": row["responded_within_limit"],
            "resolved_at": row["resolved_at"],
            "resolved_within_limit": row["resolved_within_limit"],
            "evaluation": row["evaluation"],
            "confirmed_resolved": None,
            "ended_at": ended,
            "ended_by": row["status"] if ended else None,
        }
    ]


def _passed_while_held(due: str | None, episode: Row, now_text: str) -> bool:
    """Whether ``due`` came before now and before the episode ended."""
    if not due or due >= now_text:
        return False
    return episode["ended_at"] is None or due < episode["ended_at"]


def need_figures(
    needs: Iterable[tuple[Row, list[Row], bool]], now: datetime
) -> dict[str, Any]:
    """The figures of a group: each need with the episodes of it that count in
    the group, and whether the group answers for it now (its overdue state)."""
    now_text = utc_text(now)
    assert now_text is not None
    accepted = response_settled = responded_in_time = 0
    resolution_settled = resolved = resolved_in_time = 0
    evaluated = satisfied = answered = confirmed = overdue = redos = 0
    to_respond: list[float] = []
    to_resolve: list[float] = []
    for row, episodes, holds_now in needs:
        accepted += 1
        if holds_now and is_overdue(row, now):
            overdue += 1
        for episode in episodes:
            redos += episode["started_by"] == "redo"
            if episode["responded_at"] is not None:
                response_settled += 1
                responded_in_time += bool(episode["responded_within_limit"])
                to_respond.append(_hours(episode["started_at"], episode["responded_at"]))
            elif _passed_while_held(episode["respond_due"], episode, now_text):
                response_settled += 1
            if episode["resolved_at"] is not None:
                resolution_settled += 1
                resolved += 1
                resolved_in_time += bool(episode["resolved_within_limit"])
                to_resolve.append(_hours(episode["started_at"], episode["resolved_at"]))
            elif episode["ended_by"] not in NOT_THE_PARTYS and _passed_while_held(
                episode["resolve_due"], episode, now_text
            ):
                resolution_settled += 1
            if episode["evaluation"] is not None:
                evaluated += 1
                satisfied += episode["evaluation"] in SATISFIED
            if episode.get("confirmed_resolved") is not None:
                answered += 1
                confirmed += bool(episode["confirmed_resolved"])
    return {
        "accepted": accepted,
        "response_rate": ratio(responded_in_time, response_settled),
        "resolution_rate": ratio(resolved, resolution_settled),
        "resolved_within_limit": resolved_in_time,
        "confirmed_resolution_rate": ratio(confirmed, answered),
        "satisfaction_rate": ratio(satisfied, evaluated),
        "overdue_open": overdue,
        "redos": redos,
        "median_hours_to_respond": round(median(to_respond), 2) if to_respond else None,
        "median_hours_to_resolve": round(median(to_resolve), 2) if to_resolve else None,
    }


EVALUATION_CODES = ("satisfied", "basically_satisfied", "unsatisfied")


def _evaluation_counts(evaluations: list[str]) -> dict[str, Any]:
    counts = {code: evaluations.count(code) for code in EVALUATION_CODES}
    return {
        "evaluated": len(evaluations),
        **counts,
        "satisfaction_rate": ratio(
            counts["satisfied"] + counts["basically_satisfied"], len(evaluations)
        ),
    }


def two_way_entry(entries: Iterable[tuple[Row, list[Row]]], party_id: str) -> dict[str, Any]:
    """Both ways of the evaluation for one party: the residents' of its
    episodes, and its own of the compound's side (``compound_side_evaluation``)
    of the needs it resolved."""
    residents: list[str] = []
    coordination: list[str] = []
    cooperation: list[str] = []
    for row, episodes in entries:
        residents += [e["evaluation"] for e in episodes if e.get("evaluation") is not None]
        side = row.get("compound_side_evaluation")
        if side and side.get("party_id") == party_id:
            coordination.append(side["coordination"])
            cooperation.append(side["cooperation"])
    return {
        "residents": _evaluation_counts(residents),
        "compound_side": {
            "evaluated": len(coordination),
            "coordination": _evaluation_counts(coordination),
            "cooperation": _evaluation_counts(cooperation),
        },
    }


def two_way_figures(
    rows: Iterable[Row], zone: ZoneInfo, months: set[str] | None = None
) -> list[dict[str, Any]]:
    """The two-way evaluations per compound, party and month of acceptance
    (the monthly circulated report's 双向评价通报), for every party that had
    an episode of a need of that month: see the module's description."""
    table: dict[tuple[str, str, str], list[tuple[Row, list[Row]]]] = defaultdict(list)
    for row in rows:
        if row.get("accepted_at") is None:
            continue
        month = _local_month(row["accepted_at"], zone)
        if months is not None and month not in months:
            continue
        per_party: dict[str, list[Row]] = defaultdict(list)
        for episode in episodes_of(row):
            per_party[episode["party_id"]].append(episode)
        for party, own in per_party.items():
            table[(row["compound_id"], party, month)].append((row, own))
    return [
        {
            "compound_id": compound_id,
            "party_id": party_id,
            "month": month,
            **two_way_entry(members, party_id),
        }
        for (compound_id, party_id, month), members in sorted(table.items())
    ]


def _adjusted(entries: list[tuple[Row, list[Row], bool]]) -> list[tuple[Row, list[Row], bool]]:
    """The entries as the assessment counts them: without the episodes of a
    party that a supervisor excluded the need from (不纳入考评), and without
    needs none of whose episodes in the group are left."""
    kept = []
    for row, episodes, holds_now in entries:
        excluded = row.get("excluded_parties") or {}
        if not excluded:
            kept.append((row, episodes, holds_now))
            continue
        own = [e for e in episodes if e["party_id"] not in excluded]
        if episodes and not own:
            continue
        holds_now = holds_now and row["assigned_party_id"] not in excluded
        kept.append((row, own, holds_now))
    return kept


def grouped_figures(
    rows: Iterable[Row], now: datetime, zone: ZoneInfo, months: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Figures per compound, per party and per month (and per all three): the
    raw figures, and beside them (``adjusted``) the figures without the needs
    a supervisor excluded from a party's assessment."""
    Entry = tuple[Row, list[Row], bool]
    by: dict[str, dict[tuple[str, ...], list[Entry]]] = {
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
        episodes = episodes_of(row)
        by["compound"][(row["compound_id"],)].append((row, episodes, True))
        by["month"][(month,)].append((row, episodes, True))
        per_party: dict[str, list[Row]] = defaultdict(list)
        for episode in episodes:
            per_party[episode["party_id"]].append(episode)
        if not per_party:
            per_party[UNASSIGNED] = []
        current = row["assigned_party_id"] or UNASSIGNED
        for party, own in per_party.items():
            entry = (row, own, party == current)
            by["party"][(party,)].append(entry)
            by["compound_party_month"][(row["compound_id"], party, month)].append(entry)
    keys = {
        "compound": ("compound_id",),
        "party": ("party_id",),
        "month": ("month",),
        "compound_party_month": ("compound_id", "party_id", "month"),
    }
    figures: dict[str, list[dict[str, Any]]] = {
        group: [
            {
                **dict(zip(keys[group], key, strict=True)),
                **need_figures(members, now),
                "adjusted": need_figures(_adjusted(members), now),
            }
            for key, members in sorted(table.items())
        ]
        for group, table in by.items()
    }
    figures["two_way"] = [
        {
            "compound_id": compound_id,
            "party_id": party_id,
            "month": month,
            **two_way_entry(((row, own) for row, own, _ in members), party_id),
        }
        for (compound_id, party_id, month), members in sorted(
            by["compound_party_month"].items()
        )
        if party_id != UNASSIGNED
    ]
    return figures


def coverage(compound: Row, visits: Iterable[Row], month: str) -> list[dict[str, Any]]:
    """Households visited out of households, per building, in one month."""
    visited = {v["household_id"] for v in visits if v["period"] == month}
    by_building: dict[str, list[Row]] = defaultdict(list)
    for household in compound["households"]:
        by_building[household["building_id"]].append(household)
    result = []
    for building in compound["buildings"]:
        households = by_building.get(building["id"], [])
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


def accepted_within(months: list[str], zone: ZoneInfo) -> tuple[str, str]:
    """The UTC texts from the start of the first month to the start of the
    month after the last, in ``zone``: the needs of those months (each
    belongs to the local month it was accepted in) were accepted from the
    first up to, not including, the second."""
    first = date.fromisoformat(months[0] + "-01")
    after = (date.fromisoformat(months[-1] + "-01").replace(day=28) + timedelta(days=4)).replace(day=1)
    # Clamped to the sane range (every acceptance lies in it): converting a
    # moment of year 1 to UTC may overflow.
    start, end = (min(max(datetime(d.year, d.month, 1, tzinfo=zone), EARLIEST), END) for d in (first, after))
    start_text, end_text = utc_text(start), utc_text(end)
    assert start_text is not None and end_text is not None
    return start_text, end_text


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
