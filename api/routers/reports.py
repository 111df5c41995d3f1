"""The monthly circulated report (月度通报): JSON, a printable page, a PDF."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from application.access import ensure_compound_visible
from application.monthly_report import check_report_month, last_month, monthly_report
from domain.actor import Actor
from domain.errors import NotFound

from api.deps import ServicesDep, requires, wait_for_views
from api.report_pdf import NoCjkFont, rate_text, report_pdf
from api.report_schemas import MonthlyReport, ReportFormat, ReportUnavailable
from api.routers.needs import After
from api.routers.visits import Month
from api.routing import Route

router = APIRouter(route_class=Route, tags=["audit"])

TEMPLATES = Path(__file__).resolve().parent.parent / "console" / "templates"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False,
    )
    env.globals.update(
        pct=rate_text,
        fulfilment_rate=lambda counts: (
            "—" if counts["fulfilment_rate"] is None else f"{counts['fulfilment_rate'] * 100:.1f}%"
        ),
        adjusted_differs=lambda c: any(
            p["adjusted"] != {k: p[k] for k in p["adjusted"]} for p in c["parties"]
        ),
    )
    return env


_ENV = _environment()


def report_html(report: dict[str, Any], *, pdf_url: str | None = None, json_url: str | None = None) -> str:
    """The report as a printable page (A4 when printed; narrow screens scroll the tables)."""
    names = "、".join(c["compound"] for c in report["compounds"])
    return _ENV.get_template("report_monthly.html").render(
        report=report,
        title=f"{names} {report['month_zh']}月度通报".strip(),
        pdf_url=pdf_url,
        json_url=json_url,
    )


def _link(request: Request, format_: str) -> str:
    query = {k: v for k, v in request.query_params.items() if k not in ("format", "after")}
    return f"{request.url.path}?{urlencode({**query, 'format': format_})}"


def _filename(report: dict[str, Any]) -> str:
    names = "-".join(c["compound"] for c in report["compounds"][:3]) or "report"
    return f"月度通报-{names}-{report['month']}.pdf"


@router.get(
    "/reports/monthly",
    response_model=MonthlyReport,
    response_model_exclude_unset=True,
    summary="the monthly circulated report (月度通报): JSON, a printable page or a PDF",
    responses={
        200: {
            "description": "the report: JSON (format=json), an HTML page (format=html) or a PDF (format=pdf)",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        503: {
            "model": ReportUnavailable,
            "description": (
                "format=pdf and no Chinese font on the server (the detail names what to install); "
                "or the database unavailable, the views behind, ?after= beyond the log (Retry-After)"
            ),
        },
    },
)
def get_monthly_report(
    request: Request,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("stats.read"))],
    compound_id: UUID | None = None,
    month: Month | None = None,
    format: ReportFormat = "json",  # noqa: A002
    after: After = None,
) -> Any:
    """Per compound and month: the three rates per party with their numerators
    and denominators, overdue and redo counts, service fulfilment per item,
    consultations and their outcomes, visit coverage, the two-way
    evaluations and the month's closed assessment. Without ``compound_id``,
    every compound the caller covers; without ``month``, last month."""
    wait_for_views(services, after)
    zone = ZoneInfo(services.settings.timezone)
    now = datetime.now(UTC)
    month = check_report_month(month, now, zone) if month else last_month(now, zone)
    if compound_id is not None:
        ensure_compound_visible(actor, compound_id)
        if services.views.case("compound", str(compound_id)) is None:
            raise NotFound("compound not found")
        scope: list[str] | None = [str(compound_id)]
    elif actor.compound_ids is None:
        scope = None
    else:
        scope = sorted(str(c) for c in actor.compound_ids)
    report = monthly_report(
        services.views, scope, month, now, zone, services.app.deadline_policy.calendar
    )
    if format == "html":
        return HTMLResponse(
            report_html(report, pdf_url=_link(request, "pdf"), json_url=_link(request, "json"))
        )
    if format == "pdf":
        try:
            content = report_pdf(report)
        except NoCjkFont as error:
            raise HTTPException(status_code=503, detail=str(error)) from None
        name = _filename(report)
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": (
                    f"inline; filename=\"monthly-report-{report['month']}.pdf\"; "
                    f"filename*=UTF-8''{quote(name)}"
                )
            },
        )
    return report
