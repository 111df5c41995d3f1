"""What counts as personal data in the log, and whose it is (PIPL Art. 47).

A resident may have their personal information deleted. The log is never
rewritten, so personal data is stored encrypted with a key of the person it
belongs to (the *data subject*), kept outside the events; erasing the person
destroys the key, and what was encrypted with it reads as ``ERASED`` from
then on, in every view, export and page, while the stored events (and the
Merkle tree over them) stay as they were.

Personal data here is what a resident said or what was written about them
in their own words' place:

- a need's title, description and location, when the need is a resident's
  (they reported it, or it was collected from their household);
- the resident's evaluation comment, the reason a need was withdrawn, and
  the notes added to the need;
- a household visit's notes (the household owner's);
- an opinion in a consultation (its speaker's).

Names, phone numbers and owner keys are not in events at all: they are in
the person registry, which erasure blanks. What stays readable is the
record of how the case was handled: categories, times, statuses, parties,
outcomes, deadlines, evaluations (satisfied or not), votes and areas, and
who acted (by person id). Figures are computed from those alone, so an
erasure changes none of them.

An event class declares its personal fields with ``personal_fields`` and
carries ``subject_id``: the person whose data they are, or None (a need
about the compound's common parts, events from before release 0.4), in
which case the fields are stored as written.
"""

from __future__ import annotations

from domain.errors import Conflict

ERASED = "[已删除]"


def personal_fields(event_class: type) -> tuple[str, ...]:
    """The fields of events of this class that are their subject's personal data."""
    return getattr(event_class, "personal_fields", ())


class PersonErased(Conflict):
    """New personal data of a person whose data was erased (HTTP 409)."""

    def __init__(self, person_id: str) -> None:
        super().__init__(
            f"the personal data of person {person_id} was erased; "
            "their case takes no new personal text (leave the text out or record it elsewhere)"
        )
        self.person_id = person_id
