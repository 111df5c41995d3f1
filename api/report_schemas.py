"""What ``GET /reports/monthly`` answers as JSON: the monthly circulated
report (月度通报) of application/monthly_report.py, field by field.

Times are local to the deployment (``2026-12-01 09:30``, the zone named in
``timezone``), as the printed report shows them; ids stay beside names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from api.responses import (
    CommitmentStatusCode,
    ConsultationStatusCode,
    FulfilmentCounts,
    ItemFulfilment,
    Month,
    Ratio,
    Shape,
    Uuid,
    f,
)

LocalTime = str


class ReportFigures(Shape):
    response_rate: Ratio = f("响应率: episodes acknowledged in time / response settled")
    resolution_rate: Ratio = f("办结率: episodes resolved / resolution settled")
    confirmed_resolution_rate: Ratio = f("解决率 (回访): evaluations saying resolved / saying whether")
    satisfaction_rate: Ratio = f("满意率: satisfied or basically satisfied / evaluated")
    accepted: int = f("needs accepted in the month")
    resolved_within_limit: int = f("episodes resolved within their limit")
    overdue_open: int = f("open needs past their deadlines now (超期)")
    redos: int = f("episodes begun by an unsatisfied evaluation (重办)")


class ReportTotals(ReportFigures):
    adjusted: ReportFigures = f("the same without the needs excluded from an assessment")


class ReportParty(ReportTotals):
    party_id: str = f("the party's id, or 'unassigned' for needs no party had")
    party: str = f("its name (未派单 for 'unassigned')")
    kind: str | None = f("its kind (property_company, ...); null for 'unassigned'")
    kind_zh: str | None = f("the kind in Chinese")


class ReportList(Shape):
    commitment_id: Uuid = f("the service list")
    title: str = f("its title")
    provider_party_id: Uuid = f("its provider")
    provider: str = f("the provider's name")
    status: CommitmentStatusCode = f("its status")
    status_zh: str = f("the status in Chinese")
    in_effect_version: int | None = f("the version in effect")
    items: list[ItemFulfilment] = f("per item: cumulative, as of the report's making")
    totals: FulfilmentCounts = f("over the items")


class ReportOutcomeCount(Shape):
    outcome: str = f("adopted, rejected, no_quorum, consensus or cancelled")
    outcome_zh: str = f("in Chinese")
    count: int = f("consultations that reached it in the month")


class ReportConsultation(Shape):
    consultation_id: Uuid = f("the consultation")
    topic: str = f("its topic")
    status: ConsultationStatusCode = f("its status now")
    status_zh: str = f("in Chinese")
    method: str | None = f("vote or consensus; null before it is convened")
    method_zh: str | None = f("in Chinese")
    outcome: str | None = f("its outcome, once concluded")
    outcome_zh: str | None = f("in Chinese")
    resolution: str | None = f("the resolution adopted or agreed")
    needs: int = f("needs taken to it")
    proposed_at: LocalTime = f("when it was proposed (local time)")
    concluded_at: LocalTime | None = f("when it concluded (local time)")
    actions_done: int = f("action items done")
    actions_total: int = f("action items")


class ReportConsultations(Shape):
    proposed: int = f("consultations proposed in the month")
    concluded: int = f("consultations concluded in the month")
    outcomes: list[ReportOutcomeCount] = f("those concluded, per outcome")
    items: list[ReportConsultation] = f("every consultation with a step in the month")


class ReportBuilding(Shape):
    building_id: Uuid = f("the building")
    building: str = f("its name")
    households: int = f("its households")
    visited: int = f("households visited in the month")
    coverage: Ratio = f("visited / households")


class ReportVisits(Shape):
    households: int = f("households of the compound")
    visited: int = f("households visited in the month")
    coverage: Ratio = f("visited / households")
    buildings: list[ReportBuilding] = f("per building")


class ResidentEvaluation(Shape):
    party_id: Uuid = f("the party evaluated")
    party: str = f("its name")
    satisfied: int = f("满意")
    basically_satisfied: int = f("基本满意")
    unsatisfied: int = f("不满意")
    evaluated: int = f("evaluations")
    satisfaction_rate: Ratio = f("satisfied or basically satisfied / evaluated")


class ProviderEvaluation(Shape):
    """A provider's evaluations of one aspect of the compound's side."""

    party_id: Uuid = f("the provider that evaluated")
    party: str = f("its name")
    aspect: Literal["coordination", "cooperation"] = f(
        "coordination (协调配合) or residents' cooperation (居民配合)"
    )
    aspect_zh: str = f("the aspect in Chinese")
    satisfied: int = f("满意")
    basically_satisfied: int = f("基本满意")
    unsatisfied: int = f("不满意")
    evaluated: int = f("evaluations")
    satisfaction_rate: Ratio = f("satisfied or basically satisfied / evaluated")


class ReportEvaluations(Shape):
    by_residents: list[ResidentEvaluation] = f("residents' evaluations of each party (居民评价)")
    by_providers: list[ProviderEvaluation] = f(
        "providers' evaluations of the compound's side of the needs they resolved (服务方评价)"
    )


class ReportAssessmentParty(Shape):
    party_id: str = f("the party's id, or 'unassigned'")
    party: str = f("its name")
    response_rate: Ratio = f("响应率, as recorded")
    resolution_rate: Ratio = f("办结率, as recorded")
    confirmed_resolution_rate: Ratio = f("解决率, as recorded")
    satisfaction_rate: Ratio = f("满意率, as recorded")
    accepted: int = f("needs accepted")
    resolved_within_limit: int = f("resolved within their limit")
    overdue_open: int = f("open past their deadlines at the closing")
    redos: int = f("redos")


class ReportAssessment(Shape):
    assessment_id: Uuid = f("the closed assessment")
    closed_at: LocalTime = f("when the month was closed (local time)")
    position: int = f("the log position its figures were computed at")
    parties: list[ReportAssessmentParty] = f("the recorded figures per party, without exclusions")


class CompoundReport(Shape):
    compound_id: Uuid = f("the compound")
    compound: str = f("its name")
    community: str | None = f("its community")
    totals: ReportTotals = f("the compound's figures of the month")
    parties: list[ReportParty] = f("every party of the compound, then needs no party had")
    fulfilment: list[ReportList] = f("each service list's fulfilment per item")
    consultations: ReportConsultations = f("consultations and their outcomes")
    visits: ReportVisits = f("household-visit coverage of the month")
    evaluations: ReportEvaluations = f("the two-way evaluations (双向评价)")
    assessment: ReportAssessment | None = f("the month's closed assessment; null if not closed")


class MonthlyReport(Shape):
    """``GET /reports/monthly``: the monthly circulated report (月度通报)."""

    month: Month = f("the month, YYYY-MM")
    month_zh: str = f("the month in Chinese, like 2026年11月")
    complete: bool = f("false while the month is still running")
    generated_at: LocalTime = f("when the report was made (local time)")
    timezone: str = f("the zone of the local times")
    compounds: list[CompoundReport] = f("one report per compound, by name")


ReportFormat = Literal["json", "html", "pdf"]


class ReportUnavailable(BaseModel):
    """A 503: no Chinese font for the PDF (or the database, as every route)."""

    detail: Any = f("what is missing, in words an operator can act on")
