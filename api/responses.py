"""What the GET routes answer: the models the OpenAPI document names.

Each model lists the fields the route answers today, with their types: the
view rows of application/projections.py, application/*_views.py and
application/figures.py, and what the routes add for reading (labels in
Chinese, ``allowed_commands``, ``overdue``). The JSON the routes publish is
unchanged: the routes declare ``response_model_exclude_unset=True``, so a
field a row does not carry is left out as before, never added as null.

Every object model allows more fields than it lists (``extra="allow"``):
a view row may carry a field added later, and a client must not lose it.
The open-ended parts, a trail entry's ``data`` (an event's own fields), are
typed ``dict[str, Any]``; everything around them is typed.

Fields that rows written by an earlier release may lack (a need's episodes,
its consultations, its exclusions) have defaults, so that such a row still
validates; rows written now carry them all.

Ids of cases, compounds, buildings, households and parties are UUID texts;
ids of people (``reporter_id``, ``actor_id``, ``drafted_by``...) are the
person registry's ids, any text. Times are fixed-width UTC texts
(``2026-11-02T02:00:00.000000+00:00``), so text order is time order; days
are ``YYYY-MM-DD`` and months ``YYYY-MM`` in the deployment's time zone.
Areas (m²) are decimal texts (``"90.50"``); vote fractions are texts like
``"2/3"``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.commitment import CommitmentStatus, VersionState
from domain.consultation import ConsultationStatus
from domain.need import NeedStatus
from domain.offer import OfferStatus

NeedStatusCode = Literal[tuple(s.value for s in NeedStatus)]  # type: ignore[valid-type]
CommitmentStatusCode = Literal[tuple(s.value for s in CommitmentStatus)]  # type: ignore[valid-type]
VersionStateCode = Literal[tuple(s.value for s in VersionState)]  # type: ignore[valid-type]
ConsultationStatusCode = Literal[tuple(s.value for s in ConsultationStatus)]  # type: ignore[valid-type]
OfferStatusCode = Literal[tuple(s.value for s in OfferStatus)]  # type: ignore[valid-type]

Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Moment = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        examples=["2026-11-02T02:00:00.000000+00:00"],
    ),
]
Day = Annotated[str, Field(json_schema_extra={"format": "date"}, examples=["2026-11-02"])]
Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])]
Area = Annotated[str, Field(description="square metres, a decimal text", examples=["90.50"])]
Fraction = Annotated[str, Field(description="a fraction as text", examples=["2/3"])]


def f(description: str, default: Any = ..., **kw: Any) -> Any:
    """A field with its description: required unless ``default`` is given."""
    return Field(default, description=description, **kw)


class Shape(BaseModel):
    """An object the server answers; it may carry fields not listed here."""

    model_config = ConfigDict(extra="allow")


class Cursor(Shape):
    next_cursor: int | None = f("pass as ?cursor= for the next page; null on the last page")


class ViewRow(Shape):
    """What every case row of the read side carries."""

    version: int = f("the aggregate's version: pass as If-Match to make a command conditional")
    position: int = f("log position of the case's last event")
    case_type: str = f("need, compound, party, commitment, consultation, visit or assessment")
    first_position: int = f("log position of the case's first event (the list order)")


# ----- needs (诉求) -------------------------------------------------------------------


class Episode(Shape):
    """One time a party had the need (DESIGN 2.1), with its own deadlines."""

    no: int = f("1 for the first party's episode, then 2, 3, ...")
    party_id: Uuid = f("the party that had the need")
    party_role: str | None = f("the party's kind: property_company, co_building_unit, ...")
    started_by: str = f("assigned, reassigned, redo or returned_from_consultation")
    started_at: Moment = f("when the party got the need")
    respond_due: Moment | None = f("the episode's response deadline")
    resolve_due: Moment | None = f("the episode's resolution deadline (as extended)")
    responded_at: Moment | None = f("when the party acknowledged")
    responded_within_limit: bool | None = f("whether it acknowledged by respond_due")
    resolved_at: Moment | None = f("when the party reported the outcome")
    resolved_within_limit: bool | None = f("whether it resolved by resolve_due")
    evaluation: str | None = f("the evaluation of this episode's resolution")
    confirmed_resolved: bool | None = f(
        "whether the resident considered the matter resolved (回访)", None
    )
    ended_at: Moment | None = f("when the need left the party; null while it has it")
    ended_by: str | None = f(
        "how it left: reassigned (null), escalated, closed, withdrawn, transferred, ..."
    )


class NeedConsultationStep(Shape):
    """A consultation the need went through (提交协商议事), in order."""

    consultation_id: Uuid = f("the consultation")
    escalated_at: Moment = f("when the need was taken to it")
    returned_at: Moment | None = f("when it came back; null while the parties deliberate")
    consultation_outcome: str | None = f(
        "adopted, rejected, no_quorum, consensus or cancelled; null while open"
    )
    consultation_resolution: str | None = f("the resolution the need came back with")


class CompoundSideEvaluation(Shape):
    """The provider's evaluation of the compound's side of a closed need (双向评价)."""

    party_id: Uuid = f("the party that resolved the need and evaluated")
    party_role: str = f("its kind: property_company or co_building_unit")
    coordination: str = f("the compound's coordination (协调配合): satisfied, basically_satisfied or unsatisfied")
    cooperation: str = f("the residents' cooperation (居民配合): satisfied, basically_satisfied or unsatisfied")
    comment: str | None = f("the comment, if any")
    evaluated_by: str = f("the person who evaluated")
    evaluated_at: Moment = f("when")


class Need(ViewRow):
    """A need as ``GET /needs/{id}`` and the list answer it."""

    id: Uuid = f("the need's id")
    compound_id: Uuid = f("the compound")
    building_id: Uuid | None = f("the building, if one was named")
    household_id: Uuid | None = f("the household, if one was named")
    reporter_id: str = f("the person who registered it")
    reporter_role: str = f("their role when they did")
    subject_id: str | None = f(
        "whose personal data the title, description, location, comments and notes are "
        "(a person id; README: Personal data), None for a need about the common parts "
        "(and in rows drawn before release 0.4)",
        None,
    )
    source: str = f(
        "household_visit, self_report, hotline, inspection, consultation or party_request"
    )
    toward: Literal["compound"] | None = f(
        "'compound' for a party's request of the compound (DESIGN 2.5); null for a resident issue "
        "(absent in rows from before)",
        None,
    )
    raised_by_party_id: Uuid | None = f(
        "the property company or co-building unit that raised a need toward the compound", None
    )
    category: str = f("the category (类别)")
    title: str = f("the title")
    description: str = f("what the reporter said")
    location: str | None = f("where, in words")
    attachments: list[str] = f("references of attachments, of the report and its notes")
    status: NeedStatusCode = f("the need's status")
    status_zh: str = f("the status in Chinese")
    priority: str | None = f("urgent, normal or low; null until accepted")
    reported_at: Moment = f("when it was registered")
    registered_position: int = f("log position of the registration")
    accepted_at: Moment | None = f("when it was accepted (受理)")
    respond_due: Moment | None = f("the current response deadline")
    resolve_due: Moment | None = f("the current resolution deadline (as extended)")
    assigned_party_id: Uuid | None = f("the party that has it now")
    assigned_party_role: str | None = f("that party's kind")
    assigned_at: Moment | None = f("when it was last assigned")
    commitment_id: Uuid | None = f("the service list it was assigned under")
    commitment_item_no: int | None = f("the item of that list")
    offer_id: Uuid | None = f("the co-building unit's offer (服务项目) it is served under", None)
    responded_at: Moment | None = f("when the current party acknowledged")
    responded_within_limit: bool | None = f("whether it did by respond_due")
    resolved_at: Moment | None = f("when the outcome was reported")
    resolved_within_limit: bool | None = f("whether it was by resolve_due")
    outcome: str | None = f("the reported outcome")
    evaluation: str | None = f("satisfied, basically_satisfied or unsatisfied")
    evaluation_comment: str | None = f("the evaluation's comment")
    evaluated_at: Moment | None = f("when it was evaluated")
    closed_at: Moment | None = f("when it was closed, rejected, merged, transferred or withdrawn")
    final_reason: str | None = f("the reason given then")
    merged_into: Uuid | None = f("the need it was merged into")
    transferred_to: str | None = f("the body it was transferred to (转办)")
    redo_count: int = f("how many times an unsatisfied evaluation sent it back (重办)")
    extensions: int = f("how many times its deadline was extended")
    notes: int = f("how many progress notes it has")
    supervision_notices: int = f("how many supervision notices (督办) it got")
    consultation_id: Uuid | None = f("the latest consultation it went to")
    consultation_outcome: str | None = f("that consultation's outcome", None)
    consultation_resolution: str | None = f("that consultation's resolution", None)
    escalated_at: Moment | None = f("when it last went to a consultation (absent if never)", None)
    returned_at: Moment | None = f("when it last came back from one (absent if never)", None)
    consultations: list[NeedConsultationStep] = f(
        "every consultation it went through, in order", None
    )
    episodes: list[Episode] = f("each time a party had it, in order", None)
    accepted_respond_due: Moment | None = f("the response deadline set at acceptance", None)
    accepted_resolve_due: Moment | None = f("the resolution deadline set at acceptance", None)
    confirmed_resolved: bool | None = f(
        "whether the resident said the matter is resolved (回访), at the last evaluation", None
    )
    excluded_parties: dict[str, str] = f(
        "parties whose assessment leaves it out (不纳入考评): party id to the reason", None
    )
    resolved_by_party_id: Uuid | None = f("the party that resolved it last", None)
    compound_side_evaluation: CompoundSideEvaluation | None = f(
        "the resolving provider's evaluation of the compound's side, once closed (双向评价)", None
    )
    updated_at: Moment = f("when its last event was recorded")
    overdue: bool = f("open and past a current deadline now")
    allowed_commands: list[str] = f("the commands its status admits")


class NeedPage(Cursor):
    items: list[Need] = f("needs, newest first")


class HistoryEntry(Shape):
    """One event of a case's audit trail."""

    case_id: Uuid = f("the case the event belongs to (a need's trail shows its consultations)")
    case_type: str = f("need, consultation, commitment, compound, party, visit or assessment")
    position: int = f("the event's log position")
    version: int = f("the case's version after the event")
    event_type: str = f("the event's class, like Assigned")
    event: str = f("the event's qualified name, like Need.Assigned")
    actor_id: str | None = f("the person who acted")
    actor_name: str | None = f("their display name in the person registry")
    actor_role: str | None = f("their role")
    actor_role_zh: str | None = f("the role in Chinese")
    occurred_at: Moment = f("when the event was recorded")
    reason: str | None = f("the reason the command gave, if any")
    summary_zh: str = f("what happened, in Chinese")
    summary_en: str = f("what happened, in English")
    data: dict[str, Any] = f("the event's own fields, as recorded")


class NeedHistory(Shape):
    need_id: Uuid = f("the need")
    events: list[HistoryEntry] = f("every event in order")


class ConsultationHistory(Shape):
    consultation_id: Uuid = f("the consultation")
    events: list[HistoryEntry] = f("every event in order")


class CommitmentHistory(Shape):
    commitment_id: Uuid = f("the service list")
    events: list[HistoryEntry] = f("every event in order, with the needs assigned under it")


# ----- offers (服务项目) -------------------------------------------------------------------


class Offer(ViewRow):
    """An offer of a co-building unit as ``GET /offers/{id}`` and the list answer it."""

    id: Uuid = f("the offer's id")
    compound_id: Uuid = f("the compound it is offered to")
    party_id: Uuid = f("the offering co-building unit")
    party_kind: str = f("its kind: co_building_unit")
    status: OfferStatusCode = f("published or withdrawn")
    status_zh: str = f("the status in Chinese")
    category: str = f(
        "education, family_support, elderly_care, health, legal_aid, culture_sports, "
        "volunteering or other"
    )
    title: str = f("the title")
    description: str = f("what is offered")
    capacity: int | None = f("places, if limited")
    schedule: str | None = f("when, in words")
    starts_on: Day = f("the period's first day")
    ends_on: Day | None = f("its last day; null: open-ended")
    published_at: Moment = f("when it was published")
    published_by: str = f("the person who published it")
    changed_at: Moment | None = f("when it was last changed")
    changes: int = f("how many times it was changed")
    withdrawn_at: Moment | None = f("when it was withdrawn")
    withdraw_reason: str | None = f("the reason given then")
    updated_at: Moment = f("when its last event was recorded")
    allowed_commands: list[str] = f("the commands its status admits")
    needs_served: int = f("how many needs are served under it (assigned citing it)")
    served_need_ids: list[Uuid] = f("those needs' ids, oldest first")


class OfferPage(Cursor):
    items: list[Offer] = f("offers, oldest first")


class OfferHistory(Shape):
    offer_id: Uuid = f("the offer")
    events: list[HistoryEntry] = f("every event in order, with the needs served under it")


# ----- compounds and parties ------------------------------------------------------------


class Building(Shape):
    id: Uuid = f("the building's id")
    name: str = f("its name, like 1号楼")


class Household(Shape):
    id: Uuid = f("the household's id")
    building_id: Uuid = f("its building")
    number: str = f("its number, like 101")
    exclusive_area: Area | None = f("its exclusive floor area, m² (shown to the roles that need it)", None)
    owner_name: str | None = f(
        "the owner's name: the owner person's, or as written before release 0.4 "
        "(shown to the roles that need it)",
        None,
    )
    owner_id: str | None = f("the owning person's id (shown to the roles that need it)", None)


class Compound(ViewRow):
    id: Uuid = f("the compound's id")
    compound_id: Uuid = f("the same id (every case row names its compound)")
    status: str = f("registered")
    name: str = f("its name")
    community: str | None = f("the community (社区)")
    address: str | None = f("its address")
    buildings: list[Building] = f("its buildings")
    households: list[Household] = f("its households")
    registered_at: Moment | None = f("when it was registered", None)


class CompoundList(Shape):
    items: list[Compound] = f("the compounds the credential covers")


class Party(ViewRow):
    id: Uuid = f("the party's id")
    compound_id: Uuid = f("the compound it serves")
    status: str = f("registered")
    kind: str = f("property_company, owners_committee, party_branch or co_building_unit")
    kind_zh: str = f("the kind in Chinese")
    name: str = f("its name")
    contact: str | None = f("how to reach it")


class PartyList(Shape):
    items: list[Party] = f("the parties of the compounds the credential covers")


# ----- service commitments (服务清单) -----------------------------------------------------


class CommitmentItem(Shape):
    number: int = f("the item's number in the list")
    title: str = f("the service")
    standard: str = f("the service standard")
    frequency: str = f("how often, like 每日两次")
    time_limit: str = f("the response time limit, like 30m, 24h, 7d or 3wd")


class Confirmation(Shape):
    party_id: Uuid = f("the confirming party")
    actor_id: str = f("the person who confirmed")
    actor_role: str = f("their role")
    at: Moment = f("when")


class ConfirmedBy(Confirmation):
    party: str = f("party_branch, owners_committee or provider")
    party_zh: str = f("the confirming party in Chinese")


class ListOpinion(Shape):
    text: str = f("the opinion")
    item_no: int | None = f("the item it is about")
    household_id: Uuid | None = f("the resident's household")
    on_behalf_of_resident: bool = f("recorded by staff for a resident")
    subject_id: str | None = f("whose personal data the text is (a person id)", None)
    actor_id: str = f("who recorded it")
    actor_role: str = f("their role")
    at: Moment = f("when")


class VersionSummary(Shape):
    """A version of the list as the list's row shows it (without its items)."""

    list_version: int = f("the version's number, from 1")
    state: VersionStateCode = f("the version's state")
    state_zh: str = f("the state in Chinese")
    based_on: int | None = f("the version it amends; null for the first draft")
    reason: str | None = f("the amendment's reason")
    drafted_by: str = f("who drafted it")
    drafted_by_role: str = f("their role")
    drafted_at: Moment = f("when")
    removed: list[int] = f("item numbers it removed from the version it is based on")
    confirmations: dict[str, Confirmation] = f(
        "confirmations so far, by confirming party (party_branch, owners_committee, provider)"
    )
    confirmed_by: list[ConfirmedBy] = f("the same confirmations as a list, with labels")
    took_effect_at: Moment | None = f("when it took effect")
    ended_at: Moment | None = f("when it was replaced, superseded, withdrawn or ended")
    item_count: int = f("how many items it has")
    opinion_count: int = f("how many opinions were recorded on it")


class ListVersion(VersionSummary):
    """A version with its items, what it changed, and the opinions on it."""

    items: list[CommitmentItem] = f("its items, by number")
    added: list[CommitmentItem] = f("items it added (every item of a first draft)")
    changed: list[CommitmentItem] = f("items it replaced, by number")
    opinions: list[ListOpinion] = f("the residents' opinions on it (征求意见)")


class CommitmentVersion(ListVersion):
    """``GET /commitments/{id}/versions/{n}``."""

    commitment_id: Uuid = f("the service list")
    title: str = f("the list's title")


class LastInspection(Shape):
    result: str = f("met or not_met")
    note: str = f("what was found")
    list_version: int = f("the version in effect then")
    actor_id: str = f("who inspected")
    actor_role: str = f("their role")
    at: Moment = f("when")


class InspectionCounts(Shape):
    item_no: int = f("the item")
    met: int = f("inspections that found it met")
    not_met: int = f("inspections that found it not met")
    last: LastInspection | None = f("the latest inspection")


class CommitmentSummary(ViewRow):
    """A service list as the list route answers it."""

    id: Uuid = f("the list's id")
    compound_id: Uuid = f("the compound")
    provider_party_id: Uuid = f("the provider (property company or co-building unit)")
    provider_kind: str = f("the provider's kind")
    title: str = f("the list's title")
    status: CommitmentStatusCode = f("the list's status")
    status_zh: str = f("the status in Chinese")
    status_reason: str | None = f("the reason of the last suspension, resumption or termination")
    drafted_at: Moment = f("when it was first drafted")
    drafted_by: str = f("who drafted it")
    in_effect_version: int | None = f("the version in effect")
    in_effect_items: list[CommitmentItem] = f("that version's items")
    took_effect_at: Moment | None = f("when the version in effect took effect")
    pending_version: int | None = f("the draft awaiting confirmation")
    awaiting_confirmation_from: list[str] = f("confirming parties the pending draft still needs")
    pending: ListVersion | None = f("the pending draft with its items (null in lists)")
    versions: list[VersionSummary] = f("every version, without items")
    opinions: int = f("how many opinions were recorded, on every version")
    suspended_at: Moment | None = f("when it was last suspended")
    terminated_at: Moment | None = f("when it was terminated")
    updated_at: Moment = f("when its last event was recorded")
    allowed_commands: list[str] = f("the commands its status admits")


class Commitment(CommitmentSummary):
    """``GET /commitments/{id}``: the list with its inspection counts."""

    inspections: dict[str, InspectionCounts] = f("per item number (as text), its inspections")


class CommitmentPage(Cursor):
    items: list[CommitmentSummary] = f("service lists, oldest first")


class FulfilmentCounts(Shape):
    inspections_met: int = f("inspections that found an item met")
    inspections_not_met: int = f("inspections that found it not met")
    needs_assigned: int = f("needs assigned under the items")
    needs_resolved: int = f("those resolved")
    needs_resolved_within_limit: int = f("those resolved within the item's time limit")
    needs_overdue: int = f("those still open past it")
    fulfilled: int = f("inspections met and needs resolved within the limit")
    assessed: int = f("inspections, needs resolved and needs overdue")
    fulfilment_rate: float | None = f("fulfilled / assessed, to 4 places; null if none assessed")


class ItemFulfilment(FulfilmentCounts):
    number: int = f("the item")
    title: str | None = f("its title, as last defined")
    time_limit: str | None = f("its time limit")
    in_version_in_effect: bool = f("whether the version in effect has it")


class CommitmentFulfilment(Shape):
    """``GET /commitments/{id}/fulfilment`` (履约情况)."""

    commitment_id: Uuid = f("the service list")
    compound_id: Uuid = f("its compound")
    provider_party_id: Uuid = f("its provider")
    title: str = f("its title")
    status: CommitmentStatusCode = f("its status")
    in_effect_version: int | None = f("the version in effect")
    as_of: Moment = f("when the figures were computed")
    items: list[ItemFulfilment] = f("per item, by number")
    totals: FulfilmentCounts = f("over the items")


class ListFulfilment(Shape):
    commitment_id: Uuid = f("the service list")
    compound_id: Uuid = f("its compound")
    title: str = f("its title")
    status: CommitmentStatusCode = f("its status")
    totals: FulfilmentCounts = f("over its items")


class ProviderFulfilment(Shape):
    """``GET /commitments/fulfilment``: one provider across its lists."""

    party_id: Uuid = f("the provider")
    as_of: Moment = f("when the figures were computed")
    lists: list[ListFulfilment] = f("each of its lists")
    totals: FulfilmentCounts = f("over all its lists")


# ----- consultations (协商议事) ---------------------------------------------------------


class MeetingOpinion(Shape):
    speaker: str | None = f("who spoke")
    text: str = f("what they said")
    recorded_by: str = f("who recorded it")
    recorded_at: Moment = f("when")


class ActionItemRecord(Shape):
    number: int = f("the action item's number, from 1")
    title: str = f("what is to be done")
    party_id: Uuid = f("the responsible party")
    due_on: Day = f("the day it is due")
    added_at: Moment = f("when it was added")
    done: bool = f("whether it is done")
    completed_at: Moment | None = f("when it was completed")
    completed_by: str | None = f("who completed it")
    note: str | None = f("the completion's note")


class ActionItemState(ActionItemRecord):
    overdue: bool = f("not done and past its day")


class Participation(Shape):
    area: Fraction = f("participating area / total area")
    owners: Fraction = f("participating owners / all owners")
    area_m2: Area = f("participating area")
    total_area_m2: Area = f("the electorate's total area")
    owners_count: int = f("participating owners")
    total_owners: int = f("all owners of the electorate")
    rule: str = f("the quorum rule applied")
    reached: bool = f("whether the quorum was reached")


class Approval(Shape):
    area: Fraction | None = f("area for / participating area")
    owners: Fraction | None = f("owners for / participating owners")
    for_area_m2: Area = f("area voting for")
    for_owners: int = f("owners voting for")
    rule: str = f("the approval rule applied")
    reached: bool = f("whether the motion was adopted")


class ChoiceCounts(Shape):
    for_: int = Field(alias="for", description="owners voting for")
    against: int = f("owners voting against")
    abstain: int = f("owners abstaining")


class ChoiceAreas(Shape):
    for_: Area = Field(alias="for", description="area voting for")
    against: Area = f("area voting against")
    abstain: Area = f("area abstaining")


class VoteResult(Shape):
    """How an owners' vote was decided (Civil Code Art. 278)."""

    outcome: str = f("adopted, rejected or no_quorum")
    outcome_zh: str = f("the outcome in Chinese")
    matter: str = f("the matter voted on")
    matter_zh: str = f("the matter in Chinese")
    participation: Participation = f("turnout against the quorum")
    approval: Approval = f("votes for against the threshold")
    counts: ChoiceCounts = f("owners per choice")
    areas_m2: ChoiceAreas = f("area per choice")


class Consultation(ViewRow):
    """A consultation as ``GET /consultations/{id}`` and the list answer it."""

    id: Uuid = f("the consultation's id")
    compound_id: Uuid = f("the compound")
    status: ConsultationStatusCode = f("its status")
    status_zh: str = f("the status in Chinese")
    topic: str = f("the topic")
    description: str | None = f("more about it")
    need_ids: list[Uuid] = f("the needs in dispute it concerns")
    proposed_by: str = f("who proposed it")
    proposed_by_role: str = f("their role")
    proposed_at: Moment = f("when")
    convened_at: Moment | None = f("when the meeting was convened")
    meets_at: Moment | None = f("when the meeting is")
    place: str | None = f("where")
    invited_party_ids: list[Uuid] = f("parties invited")
    invited_others: list[str] = f("others invited, by name")
    method: str | None = f("vote or consensus")
    method_zh: str | None = f("the method in Chinese")
    motion: str | None = f("the text put to the vote")
    matter: str | None = f("the matter of a vote (Art. 278)")
    electorate_source: str | None = f("where the electorate came from (households or given)")
    electorate_size: int = f("owners in the electorate")
    total_area: Area | None = f("their total exclusive area")
    votes_cast: int = f("votes cast so far")
    voted_area: Area = f("area of the owners who voted so far")
    opinions: list[MeetingOpinion] = f("participants' opinions")
    outcome: str | None = f("adopted, rejected, no_quorum, consensus or cancelled")
    concluded_at: Moment | None = f("when it concluded")
    result: VoteResult | None = f("how the vote was decided; null for other methods")
    resolution: str | None = f("the resolution")
    resolution_recorded_at: Moment | None = f("when a resolution text was recorded")
    published_at: Moment | None = f("when the resolution was published (公示)")
    publication_note: str | None = f("where and how it was posted")
    action_items: list[ActionItemState] = f("the resolution's action items")
    actions_total: int = f("how many action items")
    actions_done: int = f("how many are done")
    closed_at: Moment | None = f("when the last action item closed it")
    cancel_reason: str | None = f("why it was called off")
    updated_at: Moment = f("when its last event was recorded")
    allowed_commands: list[str] = f("the commands its status admits")


class ConsultationPage(Cursor):
    items: list[Consultation] = f("consultations, oldest first")


# ----- visits (入户摸排) and coverage ----------------------------------------------------


class Visit(ViewRow):
    id: Uuid = f("the visit's id")
    compound_id: Uuid = f("the compound")
    status: str = f("recorded")
    building_id: Uuid = f("the household's building")
    household_id: Uuid = f("the household visited")
    visited_at: Moment = f("when")
    visited_on: Day = f("the local day")
    period: Month = f("the local month")
    notes: str | None = f("what was found")
    subject_id: str | None = f("whose personal data the notes are: the household's owner", None)
    need_ids: list[Uuid] = f("needs registered on the spot")
    visitor_id: str = f("who visited")
    visitor_role: str = f("their role")


class VisitPage(Cursor):
    items: list[Visit] = f("visits, oldest first")


class Ratio(Shape):
    numerator: int = f("counted")
    denominator: int = f("out of")
    rate: float | None = f("numerator / denominator to 4 places; null when out of none")


class UnvisitedHousehold(Shape):
    household_id: Uuid = f("the household")
    number: str = f("its number")


class BuildingCoverage(Shape):
    compound_id: Uuid = f("the compound")
    building_id: Uuid = f("the building")
    building: str = f("its name")
    month: Month = f("the month")
    households: int = f("households in the building")
    visited: int = f("households visited that month")
    coverage: Ratio = f("visited / households")
    not_visited: list[UnvisitedHousehold] = f("who is left")


class VisitCoverage(Shape):
    """``GET /visits/coverage``."""

    compound_id: Uuid = f("the compound")
    months: list[Month] = f("the months, in order")
    items: list[BuildingCoverage] = f("per month and building")


# ----- the supervisors' figures --------------------------------------------------------


class Figures(Shape):
    """The figures of a group of needs (application/figures.py; the README says how)."""

    accepted: int = f("needs accepted in the group")
    response_rate: Ratio = f("响应率: episodes acknowledged in time / response settled")
    resolution_rate: Ratio = f("办结率: episodes resolved / resolution settled")
    resolved_within_limit: int = f("episodes resolved within their limit")
    confirmed_resolution_rate: Ratio = f(
        "解决率 (回访): evaluations saying resolved / evaluations saying whether"
    )
    satisfaction_rate: Ratio = f("满意率: satisfied or basically satisfied / evaluated")
    overdue_open: int = f("open needs past their deadlines now")
    redos: int = f("episodes begun by an unsatisfied evaluation (重办)")
    median_hours_to_respond: float | None = f("from an episode's start to its acknowledgement")
    median_hours_to_resolve: float | None = f("from an episode's start to its resolution")


class GroupFigures(Figures):
    adjusted: Figures = f("the same without the needs excluded from a party's assessment")


class CompoundFigures(GroupFigures):
    compound_id: Uuid = f("the compound")


class PartyFigures(GroupFigures):
    party_id: str = f("the party's id, or 'unassigned' for needs no party had")


class MonthFigures(GroupFigures):
    month: Month = f("the month of acceptance")


class CompoundPartyMonthFigures(GroupFigures):
    compound_id: Uuid = f("the compound")
    party_id: str = f("the party's id, or 'unassigned'")
    month: Month = f("the month of acceptance")


class EvaluationCounts(Shape):
    evaluated: int = f("evaluations")
    satisfied: int = f("satisfied (满意)")
    basically_satisfied: int = f("basically satisfied (基本满意)")
    unsatisfied: int = f("unsatisfied (不满意)")
    satisfaction_rate: Ratio = f("satisfied or basically satisfied / evaluated")


class CompoundSideCounts(Shape):
    evaluated: int = f("needs whose compound side the party evaluated")
    coordination: EvaluationCounts = f("the compound's coordination (协调配合)")
    cooperation: EvaluationCounts = f("the residents' cooperation (居民配合)")


class TwoWayFigures(Shape):
    """Both ways of the evaluation (双向评价) for one party, compound and month of acceptance."""

    compound_id: Uuid = f("the compound")
    party_id: str = f("the party")
    month: Month = f("the month of acceptance")
    residents: EvaluationCounts = f("the residents' evaluations of the party's episodes")
    compound_side: CompoundSideCounts = f(
        "the party's evaluations of the compound's side of the needs it resolved"
    )


class CompoundVisitCoverage(Shape):
    compound_id: Uuid = f("the compound")
    month: Month = f("the month")
    households: int = f("its households")
    visited: int = f("households visited that month")
    rate: float | None = f("visited / households; null without households")


class ListFigures(Shape):
    commitment_id: Uuid = f("the service list")
    compound_id: Uuid = f("its compound")
    provider_party_id: Uuid = f("its provider")
    title: str = f("its title")
    status: CommitmentStatusCode = f("its status")
    totals: FulfilmentCounts = f("over its items")
    items: list[ItemFulfilment] = f("per item")


class Stats(Shape):
    """``GET /stats``."""

    generated_at: str = f("when the figures were computed (ISO 8601 with offset)")
    months: list[Month] | None = f("the months asked for; null for every month")
    compound: list[CompoundFigures] = f("per compound")
    party: list[PartyFigures] = f("per party")
    month: list[MonthFigures] = f("per month")
    compound_party_month: list[CompoundPartyMonthFigures] = f("per compound, party and month")
    two_way: list[TwoWayFigures] = f(
        "two-way evaluations (双向评价) per compound, party and month", None
    )
    visit_coverage: list[CompoundVisitCoverage] = f(
        "households visited per compound and month (this month if none asked for)"
    )
    commitment_fulfilment: list[ListFigures] = f("each service list's fulfilment")


class DisputeRow(Shape):
    """A need and one consultation it went through (the dispute audit)."""

    need_id: Uuid = f("the need")
    compound_id: Uuid = f("its compound")
    title: str = f("its title")
    category: str = f("its category")
    status: NeedStatusCode = f("its status now")
    reported_at: Moment = f("when it was registered")
    accepted_at: Moment | None = f("when it was accepted")
    assigned_party_id: Uuid | None = f("the party that has it now")
    consultation_no: int = f("1 for the first consultation the need went through, then 2, ...")
    consultation_id: Uuid = f("this row's consultation")
    escalated_at: Moment | None = f("when the need was taken to it")
    returned_at: Moment | None = f("when it came back")
    consultation_outcome: str | None = f("the outcome the need came back with")
    consultation_resolution: str | None = f("the resolution it came back with")
    resolved_at: Moment | None = f("when the need was resolved")
    evaluation: str | None = f("its evaluation")
    evaluated_at: Moment | None = f("when")
    redo_count: int = f("its redos")
    need_history: str = f("the need's trail, a path")
    consultation_history: str = f("the consultation's trail, a path")
    consultation_topic: str | None = f("the consultation's topic", None)
    consultation_status: ConsultationStatusCode | None = f("its status now", None)
    method: str | None = f("vote or consensus", None)
    matter: str | None = f("the matter of a vote", None)
    vote_outcome: str | None = f("adopted, rejected or no_quorum", None)
    participation_area: Fraction | None = f("participating area / total", None)
    participation_owners: Fraction | None = f("participating owners / all", None)
    approval_area: Fraction | None = f("area for / participating", None)
    approval_owners: Fraction | None = f("owners for / participating", None)
    resolution: str | None = f("the consultation's resolution", None)
    action_items: list[ActionItemRecord] = f("its action items", None)
    actions_total: int = f("how many", None)
    actions_done: int = f("how many are done", None)
    consultation_closed_at: Moment | None = f("when it closed", None)


class DisputePage(Cursor):
    items: list[DisputeRow] = f("rows of needs, newest need first; a need's rows together")


# ----- monthly assessments (月度考评) ----------------------------------------------------


class AssessmentPartyFigures(GroupFigures):
    party_id: str = f("the party's id, or 'unassigned'")


class AssessmentFigures(Shape):
    compound: list[GroupFigures] = f("the compound's figures for the month (one entry, or none)")
    parties: list[AssessmentPartyFigures] = f("each party's figures for the month")


class Assessment(Shape):
    """``GET /assessments/{id}``: one closed month."""

    id: Uuid = f("the assessment's id")
    compound_id: Uuid = f("the compound")
    month: Month = f("the month closed")
    position: int = f("the log position the figures were computed at")
    computed_at: str = f("when (ISO 8601 with offset)")
    figures: AssessmentFigures = f("the recorded figures")


class AssessmentRow(Shape):
    """A closed month as the list answers it."""

    id: Uuid = f("the assessment's id")
    compound_id: Uuid = f("the compound")
    status: str = f("closed")
    month: Month = f("the month closed")
    period: Month = f("the same month")
    position: int = f("the log position the figures were computed at")
    computed_at: Moment = f("when")
    closed_by: str = f("who closed it")
    closed_by_role: str = f("their role")
    figures: AssessmentFigures = f("the recorded figures")
    version: int = f("the assessment's version")
    case_type: str = f("assessment")
    first_position: int = f("log position of its event")


class AssessmentList(Shape):
    items: list[AssessmentRow] = f("the closed months of the compounds the credential covers")


# ----- operations --------------------------------------------------------------------


class Health(Shape):
    status: str = f("ok")


class Readiness(Shape):
    """``GET /readyz``: 200 when ready, 503 (with Retry-After) when not."""

    status: str = f("ready, catching up or unavailable")
    log_position: int | None = f("the log's head", None)
    view_position: int | None = f("the position the views reached", None)
    lag: int | None = f("how far the views are behind", None)
    last_error: str | None = f("the view updater's last error, if it keeps failing", None)
    not_ready: dict[str, str] = f(
        "what is not ready and why: database (the error) or views (behind by how many)", None
    )
