"""The Linli application: one event-sourced application for every aggregate,
its commands grouped by aggregate in mixins."""

from __future__ import annotations

from typing import Any, ClassVar

from application.assessments import AssessmentCommands
from application.base import ConcurrentChange, Recorded, StaleVersion
from application.commitments import SNAPSHOTTING as COMMITMENT_SNAPSHOTTING
from application.commitments import CommitmentCommands
from application.compounds import CompoundCommands
from application.consultations import ConsultationCommands
from application.erasures import ErasureCommands
from application.needs import NeedCommands
from application.offers import OfferCommands
from application.visits import VisitCommands
from domain.consultation import Consultation

__all__ = ["ConcurrentChange", "Linli", "Recorded", "StaleVersion"]


class Linli(
    NeedCommands,
    CompoundCommands,
    VisitCommands,
    CommitmentCommands,
    ConsultationCommands,
    AssessmentCommands,
    OfferCommands,
    ErasureCommands,
):
    name = "Linli"
    snapshotting_intervals: ClassVar[dict[Any, int]] = {**COMMITMENT_SNAPSHOTTING, Consultation: 50}
