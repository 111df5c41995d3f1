"""Monthly assessments (月度考评): a supervisor closes a compound's month."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import Field

from api import responses as rs
from api import schemas as s
from api.deps import ServicesDep, requires
from api.export import csv_response
from api.routing import Route
from application.access import ensure_compound_visible
from domain.actor import Actor
from domain.assessment import Assessment

router = APIRouter(route_class=Route, prefix="/assessments", tags=["audit"])


class AssessmentClose(s.Command):
    compound_id: UUID
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="a month that has ended, like 2026-11")


# The figures of one row of an assessment, as its CSV columns.
RATES = ("response_rate", "resolution_rate", "confirmed_resolution_rate", "satisfaction_rate")
CSV_COLUMNS = (
    "assessment_id",
    "compound_id",
    "month",
    "position",
    "computed_at",
    "figures",
    "party_id",
    "accepted",
    *(f"{rate}_{part}" for rate in RATES for part in ("numerator", "denominator", "rate")),
    "resolved_within_limit",
    "overdue_open",
    "redos",
    "median_hours_to_respond",
    "median_hours_to_resolve",
)


def _document(assessment: Assessment) -> dict[str, Any]:
    return {
        "id": str(assessment.id),
        "compound_id": str(assessment.compound_id),
        "month": assessment.month,
        "position": assessment.position,
        "computed_at": assessment.computed_at.isoformat(),
        "figures": assessment.figures,
    }


@router.post("", status_code=201, response_model=s.Recorded, summary="close a month (月度考评)")
def close_assessment(
    body: AssessmentClose,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("assessment.close"))],
) -> s.Recorded:
    recorded = services.app.close_assessment(actor, compound_id=body.compound_id, month=body.month)
    return s.Recorded(id=recorded.id, version=recorded.version, position=recorded.position)


@router.get(
    "",
    response_model=rs.AssessmentList,
    response_model_exclude_unset=True,
    summary="the closed months",
)
def list_assessments(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("assessment.read"))],
    compound_id: UUID | None = None,
) -> dict[str, Any]:
    if compound_id is not None:
        ensure_compound_visible(actor, compound_id)
        compounds = [str(compound_id)]
    else:
        compounds = None if actor.compound_ids is None else sorted(map(str, actor.compound_ids))
    rows = list(services.views.iter_cases("assessment", compounds))
    return {"items": rows}


@router.get(
    "/{assessment_id}",
    response_model=rs.Assessment,
    response_model_exclude_unset=True,
    summary="one closed month, with its figures",
)
def get_assessment(
    assessment_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("assessment.read"))],
    format: Literal["json", "csv"] = "json",  # noqa: A002
) -> Any:
    assessment = services.app.get_assessment(actor, assessment_id)
    document = _document(assessment)
    if format == "csv":
        return csv_response(_csv_rows(document), CSV_COLUMNS, f"assessment-{assessment.month}.csv")
    return document


def _csv_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    head = {k: document[k] for k in ("compound_id", "month", "position", "computed_at")}
    head["assessment_id"] = document["id"]
    rows = []
    for which, entries in (("compound", document["figures"]["compound"]), ("parties", document["figures"]["parties"])):
        for kind in ("raw", "adjusted"):
            for entry in entries:
                figures = entry if kind == "raw" else entry["adjusted"]
                row = {**head, "figures": kind, "party_id": entry.get("party_id", "")}
                for key, value in figures.items():
                    if key in RATES:
                        for part in ("numerator", "denominator", "rate"):
                            row[f"{key}_{part}"] = value[part]
                    elif key in CSV_COLUMNS:
                        row[key] = value
                rows.append(row)
    return rows
