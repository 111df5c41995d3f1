"""Erasing a person's personal data (PIPL Art. 47): the command, and how an
erasure appears on the read side (its own case, with a trail of one entry).

What it erases and how is domain/personal.py's and
infrastructure/personal_data.py's; the command records the decision.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import AggregateNotFoundError

from application.access import authorize, register_permissions
from application.base import LinliBase, Recorded
from application.readmodel import CaseType, Row, register_case_type, utc_text
from application.summaries import Words, bilingual
from domain.actor import Actor, Role
from domain.erasure import Erasure

register_permissions({"person.erase": frozenset({Role.ADMIN})})


class ErasureCommands(LinliBase):
    def erase_person(self, by: Actor, person_id: str, reason: str) -> tuple[Recorded, bool]:
        """Record that the person's personal data is erased, once: the second
        time, the first erasure is returned (and False, for not new)."""
        authorize(by, "person.erase")
        erasure = Erasure.record(by=by, person_id=person_id, reason=reason)
        try:
            earlier = self.repository.get(erasure.id)
        except AggregateNotFoundError:
            return self._create(erasure), True
        # (The log's head is at or after the earlier erasure: views that
        # reached it have drawn the person's rows again.)
        head = self.recorder.max_notification_id() or 0  # type: ignore[attr-defined]
        return Recorded(earlier.id, earlier.version, head), False


def erasure_row(row: Row | None, event: Any, position: int) -> Row:
    return {
        "id": str(event.originator_id),
        "compound_id": None,
        "status": "erased",
        "person_id": event.person_id,
        "reason": event.reason,
        "erased_at": utc_text(event.timestamp),
        "erased_by": event.actor_id,
        "position": position,
        "version": event.originator_version,
    }


def _erased(d: Row, w: Words) -> str:
    person = w.person(d.get("person_id"))
    reason = d.get("reason") or ""
    return w.t(
        f"删除 {person} 的个人信息（原因：{reason}）",
        f"erased the personal data of {person} (reason: {reason})",
    )


register_case_type(
    CaseType("erasure", Erasure, erasure_row),
    {"Erasure.Recorded": bilingual(_erased)},
)
