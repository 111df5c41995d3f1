"""Service lists (服务清单): the list, and one list's versions side by side and fulfilment."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends
from fastapi.responses import Response

from api.console import charts
from api.console.common import (
    CompoundFilter,
    Console,
    after,
    compounds,
    console_session,
    id_in_path,
    listing,
    page,
    page_router,
    parties,
    party_name,
    query,
)
from api.routers import commitments as commitments_api

router = page_router()


@router.get("/commitments")
@page
def commitments_page(
    console: Annotated[Console, Depends(console_session("commitment.read"))],
) -> Response:
    chosen = query(console.request, CompoundFilter).compound_id
    listed = commitments_api.list_commitments(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=chosen,
        status=None,
        party_id=None,
        cursor=None,
        limit=200,
        after=None,
        format="json",
    )
    known = parties(console)
    return console.render(
        "commitments.html",
        rows=listing(listed)[0],
        compounds=compounds(console),
        compound_id=str(chosen) if chosen else "",
        party_name=lambda pid: party_name(known, pid),
    )


@router.get("/commitments/{commitment_id}")
@page
def commitment_page(
    commitment_id: str,
    console: Annotated[Console, Depends(console_session("commitment.read"))],
) -> Response:
    services, actor = console.services, console.actor
    assert actor is not None
    commitment_id = id_in_path("commitment_id", commitment_id)  # type: ignore[assignment]
    row = commitments_api.get_commitment(
        commitment_id, services, actor, after=after(console.request)
    )
    versions = [
        commitments_api.commitment_version(commitment_id, n, services, actor, after=None)
        for n in range(1, len(row["versions"]) + 1)
    ]
    numbers = sorted({item["number"] for v in versions for item in v["items"]})
    grid = []
    for number in numbers:
        cells = []
        for v in versions:
            item = next((i for i in v["items"] if i["number"] == number), None)
            mark = None
            if v["based_on"] is not None:
                if number in v["removed"]:
                    mark = "removed"
                elif any(i["number"] == number for i in v["added"]):
                    mark = "added"
                elif any(i["number"] == number for i in v["changed"]):
                    mark = "changed"
            cells.append({"item": item, "mark": mark})
        grid.append({"number": number, "cells": cells})
    figures = commitments_api.commitment_fulfilment(
        commitment_id, services, actor, after=None, format="json"
    )
    chart = charts.bar_chart(
        console.t("fulfilment_rate"),
        [f"{i['number']}. {i['title'] or ''}" for i in figures["items"]],
        [
            charts.Series(
                console.t("fulfilment_rate"), [i["fulfilment_rate"] for i in figures["items"]]
            )
        ],
    )
    known = parties(console)
    return console.render(
        "commitment.html",
        row=row,
        versions=versions,
        grid=grid,
        figures=figures,
        chart=chart,
        party_name=lambda pid: party_name(known, pid),
    )
