"""Figures: the rates per month and per party, as charts beside their numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends
from fastapi.responses import Response

from api.console import charts
from api.console.common import (
    Console,
    FigureFilters,
    compounds,
    console_session,
    page,
    page_router,
    parties,
    party_name,
    query,
)
from api.routers import stats as stats_api
from application.figures import month_range

router = page_router()

RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
SHOWN_AT_LEAST = 6  # months, when no range is asked


def rate_of(row: dict[str, Any] | None, name: str) -> float | None:
    return None if row is None else row[name]["rate"]  # type: ignore[no-any-return]


def shown_months(asked: list[str] | None, have: list[str], zone: str) -> list[str]:
    """Every month of the range asked; with none asked, every month from the
    first with figures (or six months back) to this month (or the last with
    figures): a month without needs is drawn, as a zero."""
    if asked:
        return asked
    this_month = datetime.now(UTC).astimezone(ZoneInfo(zone)).strftime("%Y-%m")
    last = max([this_month, *have])
    year, month = int(last[:4]), int(last[5:]) - (SHOWN_AT_LEAST - 1)
    while month < 1:
        month += 12
        year -= 1
    first = min([*have, f"{year:04d}-{month:02d}"])
    return month_range(first, last)


@router.get("/figures")
@page
def figures_page(
    console: Annotated[Console, Depends(console_session("stats.read"))],
) -> Response:
    filters = query(console.request, FigureFilters)
    figures = stats_api.stats(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=filters.compound_id,
        party_id=filters.party_id,
        month_from=filters.month_from,
        month_to=filters.month_to,
        after=None,
    )
    known = parties(console)

    def party_label(party_id: str) -> str:
        return console.t("unassigned") if party_id == "unassigned" else party_name(known, party_id)

    def rates(rows: list[dict[str, Any]]) -> list[charts.Series]:
        return [charts.Series(console.t(name), [r[name]["rate"] for r in rows]) for name in RATES]

    by_month = {r["month"]: r for r in figures["month"]}
    months = shown_months(figures["months"], list(by_month), console.timezone)
    rows = [by_month.get(m) or {"month": m, "empty": True} for m in months]
    per_party = figures["party"]
    month_chart = charts.trend_chart(
        f"{console.t('per_month')} · {console.t('response_rate')} / "
        f"{console.t('resolution_rate')} / {console.t('satisfaction_rate')}",
        months,
        [
            charts.Series(console.t(name), [rate_of(by_month.get(m), name) for m in months])
            for name in RATES
        ],
        charts.Series(
            console.t("accepted"), [(by_month.get(m) or {}).get("accepted", 0) for m in months]
        ),
        lang=console.lang,
    )
    party_chart = charts.bar_chart(
        console.t("per_party"), [party_label(r["party_id"]) for r in per_party], rates(per_party)
    )
    return console.render(
        "figures.html",
        filters=filters,
        figures=figures,
        months=rows,
        per_party=per_party,
        month_chart=month_chart,
        party_chart=party_chart,
        party_label=party_label,
        compounds=compounds(console),
        parties=known,
    )
