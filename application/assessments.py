"""Monthly assessments (月度考评): a supervisor closes a compound's month.

The figures of a closed month are computed from the events up to the log
position of the closing, replayed through the same projection as the need
views (``need_row``) and counted by the same rules (``grouped_figures``), at
the moment of the closing. ``verify_assessment`` does it again from the
events alone: the recorded figures are reproducible, and events recorded
after the closing never change a closed month.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

import application.assessment_views  # noqa: F401 - registers the case type
from application.access import AUDITORS, R, authorize, ensure_compound_visible, register_permissions
from application.base import LinliBase, Recorded
from application.figures import grouped_figures
from application.projections import need_row
from application.readmodel import Row
from domain.actor import Actor
from domain.assessment import Assessment, assessment_id, check_month
from domain.errors import Conflict
from domain.need import Need

register_permissions(
    {
        "assessment.close": frozenset({R.SUPERVISOR}),
        "assessment.read": AUDITORS,
    }
)

# The log's need events: all a month's figures are made of.
NEED_TOPICS = tuple(
    get_topic(cls)
    for cls in vars(Need).values()
    if isinstance(cls, type) and issubclass(cls, Need.Event) and cls is not Need.Event
)
BATCH = 2000


class AssessmentCommands(LinliBase):
    def close_assessment(
        self, by: Actor, *, compound_id: UUID, month: str, now: datetime | None = None
    ) -> Recorded:
        """Close ``month`` for a compound: its figures as of now, at the log's head."""
        authorize(by, "assessment.close")
        self._visible_compound(by, compound_id, "compound_id")
        now = now or datetime.now(UTC)
        zone = self.deadline_policy.calendar.timezone
        check_month(month, now.astimezone(zone).strftime("%Y-%m"))
        position = self.recorder.max_notification_id() or 0
        figures = self.assessment_figures(compound_id, month, position, now)
        assessment = Assessment.close(
            by=by, compound_id=compound_id, month=month, position=position, figures=figures, now=now
        )
        try:
            return self._create(assessment)
        except IntegrityError:
            raise Conflict(
                f"{month} is already closed for this compound "
                f"(assessment {assessment_id(compound_id, month)})"
            ) from None

    def get_assessment(self, by: Actor, assessment_id: UUID) -> Assessment:
        authorize(by, "assessment.read")
        assessment = self._load(Assessment, assessment_id, "assessment")
        ensure_compound_visible(by, assessment.compound_id, "assessment")
        return assessment

    def verify_assessment(self, assessment_id: UUID) -> tuple[Assessment, dict[str, Any]]:
        """The assessment and its figures recomputed from the events up to its
        position, at its moment: equal to the recorded ones if nothing changed."""
        assessment = self._load(Assessment, assessment_id, "assessment")
        again = self.assessment_figures(
            assessment.compound_id, assessment.month, assessment.position, assessment.computed_at
        )
        return assessment, again

    def assessment_figures(
        self, compound_id: UUID, month: str, position: int, now: datetime
    ) -> dict[str, Any]:
        """The compound's figures for ``month``, and each party's, from the
        events up to ``position`` as they were at ``now``."""
        rows = list(self._needs_at(position).values())
        compound = str(compound_id)
        zone = self.deadline_policy.calendar.timezone
        groups = grouped_figures(
            (r for r in rows if r["compound_id"] == compound), now, zone, {month}
        )
        return {
            "compound": [{k: v for k, v in g.items() if k != "compound_id"} for g in groups["compound"]],
            "parties": [
                {k: v for k, v in g.items() if k not in ("compound_id", "month")}
                for g in groups["compound_party_month"]
            ],
        }

    def _needs_at(self, position: int) -> dict[str, Row]:
        """Every need's view row as the events up to ``position`` make it."""
        rows: dict[str, Row] = {}
        start = 1
        while start <= position:
            batch = self.recorder.select_notifications(
                start=start, limit=BATCH, stop=position, topics=NEED_TOPICS
            )
            if not batch:
                break
            for notification in batch:
                event = self.mapper.to_domain_event(notification)
                key = str(event.originator_id)
                rows[key] = need_row(rows.get(key), event, notification.id)
            start = batch[-1].id + 1
        return rows
