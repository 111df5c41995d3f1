"""A district's decade of events, for ``bench/district.py`` (issue 27 item 3).

Bench scaffolding, not product code: it writes events straight through the
domain's own methods and ``Linli.save`` (a few thousand events per
transaction, as ``bench/seed.py`` does), never over HTTP, and it drives a
simulated clock while it does so (see ``SimClock``) so that each event is
stamped at a plausible time of the ten years rather than at the moment the
seeder ran. Nothing else in Linli may use that clock.

The district (``Shape``): about 200 compounds, each with buildings and
households (6 x 25 by default), the four parties (property company, party
branch, owners' committee, co-building unit) and their staff, and ten years of
history ending with the month before the current one. The events are spread
evenly over compounds and months and split, by count of events, as:

- ~60 % need events (``MIX["need"]``). A need's life, by share of needs:
  72 % registered, accepted, assigned, acknowledged, resolved and evaluated
  satisfied or basically satisfied (6 events); 8 % resolved and closed
  unevaluated after the evaluation window (6); 6 % evaluated unsatisfied and
  redone (10); 5 % reassigned to the co-building unit (7); 3 % rejected at
  acceptance (2); 6 % with a note or a supervision notice on the way (7).
  2 % of older needs are stuck in progress; the needs of the last two months
  are still open at every stage.
  Disputed needs (below) are counted here too (9 events each).
- ~25 % household visits (``HouseholdVisit``, one event each), grid
  workers calling on the compound's households, a few a day.
- ~10 % service lists (``ServiceCommitment``): each compound's list is
  drafted and confirmed by the three parties in the first month, inspected
  item by item every month, and amended (and confirmed again) once a year;
  snapshots every 50 versions, as the application takes them.
- ~5 % consultations (``Consultation``, 7 events each: proposed with one or
  two disputed needs, which it escalates; convened for consensus; three
  opinions; consensus reached; published; the needs then return to their
  party and are finished).

The whole is sized by ``events`` (e.g. 200 k for a quick check, 10 M for the
real figure); the world (compounds, buildings, households, parties) is about
157 events per compound on top. Seeding runs in child processes side by side,
each taking every n-th compound (``python -m bench.district_seed SCHEMA
EVENTS INDEX PROCS WORLD.json PG.json``, which prints a JSON summary).
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import eventsourcing.domain as es_domain

from domain.actor import Actor, Role
from domain.commitment import ServiceCommitment
from domain.compound import Compound
from domain.consultation import Consultation
from domain.need import Need
from domain.party import Party
from domain.visit import HouseholdVisit

MIX = {"need": 0.60, "visit": 0.25, "commitment": 0.10, "consultation": 0.05}
PARTY_KINDS = ("property_company", "party_branch", "owners_committee", "co_building_unit")
REGISTRAR = Actor("district-registrar", Role.COMMUNITY_STAFF, compound_ids=None)
LIST_STATUS = "in_progress"  # the filtered list: a party's work in hand (as bench/seed.py)
CATEGORIES = ("facilities", "environment", "property_service", "safety")
TITLES = ("电梯停运", "楼道灯不亮", "垃圾清运不及时", "消防通道被占", "屋顶漏水", "路面破损")
ITEMS = [
    {"number": 1, "title": "公共区域保洁", "standard": "每日两次", "frequency": "每日", "time_limit": "1wd"},
    {"number": 2, "title": "电梯维保", "standard": "每月两次", "frequency": "每半月", "time_limit": "3wd"},
    {"number": 3, "title": "绿化养护", "standard": "每周一次", "frequency": "每周", "time_limit": "5wd"},
    {"number": 4, "title": "秩序维护", "standard": "24小时值守", "frequency": "每日", "time_limit": "1wd"},
]


@dataclass(frozen=True)
class Shape:
    """The district's size and history; ``end`` is the last month of history (YYYY-MM)."""

    compounds: int = 200
    years: int = 10
    buildings: int = 6
    households_per_building: int = 25
    end: str = ""  # default: the month before this one

    def months(self, zone: ZoneInfo) -> list[tuple[int, int]]:
        if self.end:
            year, month = (int(x) for x in self.end.split("-"))
        else:
            today = datetime.now(zone)
            year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        out = []
        for _ in range(12 * self.years):
            out.append((year, month))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return out[::-1]


# ----- the simulated clock ------------------------------------------------------------


class SimClock:
    """While entered, every event the library stamps by itself (``create_timestamp``
    on the event class: commands without a ``now``, snapshots) is stamped with
    ``clock.now`` instead of the wall clock. Seeding only."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._saved: Any = None

    def at(self, when: datetime) -> datetime:
        self.now = when
        return when

    def __enter__(self) -> SimClock:
        self._saved = es_domain.CanCreateTimestamp.__dict__["create_timestamp"]
        es_domain.CanCreateTimestamp.create_timestamp = staticmethod(lambda: self.now)  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        es_domain.CanCreateTimestamp.create_timestamp = self._saved  # type: ignore[method-assign]


# ----- the world ------------------------------------------------------------------------


def build_world(services: Any, shape: Shape, batch_events: int = 5000) -> dict[str, Any]:
    """Compounds (buildings, households) and their parties, by the domain's own
    methods, stamped a month before the history begins; tokens for compound 0's
    staff and for a district-wide supervisor."""
    app = services.app
    zone = app.deadline_policy.calendar.timezone
    months = shape.months(zone)
    first = datetime(*months[0], 1, 9, tzinfo=zone) - timedelta(days=30)
    world: dict[str, Any] = {"shape": asdict(shape), "months": [f"{y:04d}-{m:02d}" for y, m in months],
                             "compounds": []}
    batch: list[Any] = []
    pending = 0
    with SimClock(first) as clock:
        for k in range(shape.compounds):
            clock.at(first + timedelta(minutes=k))
            compound = Compound.register(by=REGISTRAR, name=f"幸福里{k}号小区", community=f"和平社区{k // 20}",
                                         id=uuid4())
            buildings = []
            for b in range(shape.buildings):
                building = compound.add_building(by=REGISTRAR, name=f"{b + 1}号楼")
                households = [
                    str(compound.add_household(by=REGISTRAR, building_id=building,
                                               number=f"{f // 4 + 1}0{f % 4 + 1}",
                                               exclusive_area=Decimal(70 + 5 * (f % 9))))
                    for f in range(shape.households_per_building)
                ]
                buildings.append({"id": str(building), "households": households})
            parties = {kind: Party.register(by=REGISTRAR, compound_id=compound.id, kind=kind,
                                            name=f"{kind} {k}", id=uuid4())
                       for kind in PARTY_KINDS}
            batch += [compound, *parties.values()]
            pending += len(compound.pending_events) + len(parties)
            world["compounds"].append({"id": str(compound.id), "buildings": buildings,
                                       "parties": {kind: str(p.id) for kind, p in parties.items()}})
            if pending >= batch_events:
                app.save(*batch)
                batch, pending = [], 0
        if batch:
            app.save(*batch)
    cid = UUID(world["compounds"][0]["id"])
    issue, people = services.credentials.issue, services.people
    world["tokens"] = {
        "staff": issue(person_id=people.register("district-staff", created_by="bench").id,
                       role=Role.COMMUNITY_STAFF, compound_ids=[cid]).token,
        "supervisor": issue(person_id=people.register("district-supervisor", created_by="bench").id,
                            role=Role.SUPERVISOR, compound_ids=None).token,
    }
    return world


# ----- the history ----------------------------------------------------------------------


def _actors(compound: dict[str, Any], k: int) -> dict[str, Actor]:
    cid = frozenset({UUID(compound["id"])})
    parties = {kind: UUID(v) for kind, v in compound["parties"].items()}
    return {
        "grid": Actor(f"grid-{k}", Role.GRID_WORKER, compound_ids=cid),
        "staff": Actor(f"staff-{k}", Role.COMMUNITY_STAFF, compound_ids=cid),
        "pc": Actor(f"pc-{k}", Role.PROPERTY_COMPANY, compound_ids=cid, party_id=parties["property_company"]),
        "cbu": Actor(f"cbu-{k}", Role.CO_BUILDING_UNIT, compound_ids=cid, party_id=parties["co_building_unit"]),
        "branch": Actor(f"branch-{k}", Role.PARTY_BRANCH, compound_ids=cid, party_id=parties["party_branch"]),
        "committee": Actor(f"committee-{k}", Role.OWNERS_COMMITTEE, compound_ids=cid,
                           party_id=parties["owners_committee"]),
    }


class Seeder:
    """One child process's share: every ``procs``-th compound, month by month."""

    def __init__(self, app: Any, world: dict[str, Any], events: int, index: int, procs: int,
                 batch_events: int = 5000, sample: int = 2000, seed: int = 27) -> None:
        self.app = app
        self.policy = app.deadline_policy
        self.zone: ZoneInfo = self.policy.calendar.timezone
        self.window: timedelta = app.evaluation_window
        self.world = world
        self.events = events
        self.mine = [(k, c) for k, c in enumerate(world["compounds"]) if k % procs == index]
        self.months = [tuple(int(x) for x in m.split("-")) for m in world["months"]]
        self.rng = random.Random(seed * 1000 + index)
        self.batch_events = batch_events
        self.sample_size = sample
        self.clock = SimClock(datetime.now(UTC))
        self.real_now = datetime.now(UTC) - timedelta(minutes=5)
        self.batch: dict[UUID, Any] = {}
        self.counted: dict[UUID, int] = {}
        self.in_batch = 0
        self.written = 0
        self.counts = {kind: 0 for kind in MIX}
        self.needs = 0
        self.sample: list[str] = []
        self.sample_district: list[str] = []
        self.commitments: dict[int, ServiceCommitment] = {}

    # -- time ------------------------------------------------------------------

    def t(self, when: datetime) -> datetime:
        """Set the clock to ``when`` (never past the real now) and return it."""
        return self.clock.at(min(when, self.real_now))

    def moment(self, year: int, month: int) -> datetime:
        """A working-hours moment in the month, local time."""
        day = self.rng.randint(1, 28)
        return datetime(year, month, day, self.rng.randint(8, 19), self.rng.randint(0, 59),
                        self.rng.randint(0, 59), tzinfo=self.zone)

    def later(self, t: datetime, low_h: float, high_h: float) -> datetime:
        return t + timedelta(hours=self.rng.uniform(low_h, high_h))

    # -- saving ----------------------------------------------------------------

    def add(self, kind: str, *aggregates: Any) -> int:
        n = 0
        for a in aggregates:
            # An aggregate may come again before the batch is saved (a list's
            # inspections): count only the events it did not have then.
            pending = len(a.pending_events)
            n += pending - self.counted.get(a.id, 0)
            self.counted[a.id] = pending
            self.batch[a.id] = a
        self.in_batch += n
        self.counts[kind] += n
        if self.in_batch >= self.batch_events:
            self.flush()
        return n

    def flush(self) -> None:
        if self.batch:
            self.app.save(*self.batch.values())
            self.written += self.in_batch
            self.batch, self.in_batch, self.counted = {}, 0, {}

    # -- the kinds of history ---------------------------------------------------

    def need(self, k: int, c: dict[str, Any], a: dict[str, Actor], year: int, month: int,
             open_stage: int | None, disputed: bool = False) -> Need:
        rng = self.rng
        building = rng.choice(c["buildings"])
        t = self.t(self.moment(year, month))
        n = self.needs
        self.needs += 1
        need = Need.register(
            by=a["grid"], id=uuid4(), compound_id=UUID(c["id"]),
            source=("household_visit", "self_report", "hotline")[n % 3],
            title=f"{n % 12 + 1}号楼{TITLES[n % len(TITLES)]}",
            description="自周一起出现，老人上下楼困难，请尽快处理",
            category=CATEGORIES[n % 4], building_id=UUID(building["id"]),
            household_id=UUID(rng.choice(building["households"])), now=t,
        )
        if k == 0 and len(self.sample) < self.sample_size and rng.random() < 0.5:
            self.sample.append(str(need.id))
        elif len(self.sample_district) < self.sample_size and rng.random() < 0.02:
            self.sample_district.append(str(need.id))
        stage = open_stage or 99
        life = rng.random()
        if stage < 2:
            return need
        t = self.t(self.later(t, 0.5, 6))
        if life < 0.03 and not disputed and open_stage is None:
            need.reject(by=a["staff"], reason="不属于社区受理范围，已告知居民向有关部门反映")
            return need
        need.accept(by=a["staff"], priority=("normal", "urgent", "low")[n % 3], policy=self.policy, now=t)
        if stage < 3:
            return need
        pc = UUID(c["parties"]["property_company"])
        t = self.t(self.later(t, 0.5, 24))
        need.assign(by=a["staff"], party_id=pc, party_role="property_company", policy=self.policy, now=t)
        handler = a["pc"]
        if 0.03 <= life < 0.08 and not disputed:
            t = self.t(self.later(t, 2, 30))
            need.assign(by=a["staff"], party_id=UUID(c["parties"]["co_building_unit"]),
                        party_role="co_building_unit", reason="属共建单位管辖设施，改派",
                        policy=self.policy, now=t)
            handler = a["cbu"]
        if stage < 4:
            return need
        t = self.t(self.later(t, 1, 30))
        need.acknowledge(by=handler, now=t)
        if disputed:
            return need  # the consultation takes it from here
        if 0.08 <= life < 0.14:
            t = self.t(self.later(t, 2, 48))
            if life < 0.11:
                need.add_note(by=handler, text="已联系维修单位，配件到货后施工", now=t)
            else:
                need.supervise(by=a["staff"], text="请加快处理进度，三日内反馈", now=t)
        if stage < 5 or (open_stage is None and rng.random() < 0.02):
            return need  # in progress (a few older ones stuck)
        t = self.t(self.later(t, 24, 120))
        need.resolve(by=handler, outcome="已处理完毕，恢复正常", now=t)
        if stage < 6:
            return need
        self.finish(need, a, handler, t, life)
        return need

    def finish(self, need: Need, a: dict[str, Actor], handler: Actor, t: datetime, life: float) -> None:
        rng = self.rng
        if 0.14 <= life < 0.22 and t + self.window + timedelta(days=3) < self.real_now:
            t = self.t(t + self.window + timedelta(hours=rng.uniform(2, 72)))
            need.close(by=a["staff"], reason="回访未果，超过评价期限归档", evaluation_window=self.window, now=t)
            return
        if 0.22 <= life < 0.28:
            t = self.t(self.later(t, 24, 120))
            need.evaluate(by=a["grid"], evaluation="unsatisfied", comment="问题未彻底解决，又出现了",
                          obtained_by="visit", policy=self.policy, now=t)
            t = self.t(self.later(t, 1, 30))
            need.acknowledge(by=handler, now=t)
            t = self.t(self.later(t, 24, 120))
            need.resolve(by=handler, outcome="返工后已彻底解决", now=t)
        t = self.t(self.later(t, 24, 120))
        need.evaluate(by=a["grid"], evaluation=("satisfied", "basically_satisfied")[rng.random() < 0.2],
                      obtained_by=("phone", "visit", "in_person")[rng.randrange(3)], now=t)

    def visit(self, c: dict[str, Any], a: dict[str, Actor], year: int, month: int) -> None:
        building = self.rng.choice(c["buildings"])
        t = self.t(self.moment(year, month))
        visit = HouseholdVisit.record(
            by=a["grid"], id=uuid4(), compound_id=UUID(c["id"]), building_id=UUID(building["id"]),
            household_id=UUID(self.rng.choice(building["households"])), visited_at=t,
            timezone=self.zone, now=t, notes="走访了解居民近况，无新诉求" if self.rng.random() < 0.3 else None,
        )
        self.add("visit", visit)

    def commitment(self, k: int, c: dict[str, Any], a: dict[str, Actor], year: int, month: int,
                   quota: float) -> float:
        """The list's events this month; returns how many were made."""
        made = 0
        commitment = self.commitments.get(k)
        t = self.t(datetime(year, month, 2, 10, tzinfo=self.zone))
        if commitment is None:
            commitment = ServiceCommitment.draft(
                by=a["branch"], id=uuid4(), compound_id=UUID(c["id"]),
                provider_party_id=UUID(c["parties"]["property_company"]), provider_kind="property_company",
                title="物业服务清单", items=ITEMS, now=t)
            self.commitments[k] = commitment
            self.confirm_all(commitment, a, t)
            made += self.add("commitment", commitment)
        if month == 6 and quota >= 5:
            t = self.t(datetime(year, month, 3, 15, tzinfo=self.zone))
            item = dict(ITEMS[year % 4])
            item["standard"] = f"{item['standard']}（{year}年调整）"
            commitment.amend(by=a["committee"], reason="业主大会讨论后调整服务标准", change=[item], now=t)
            self.confirm_all(commitment, a, t)
            made += self.add("commitment", commitment)
        while made + 1 <= quota:
            t = self.t(self.moment(year, month))
            commitment.inspect(by=a["staff"], item_no=1 + self.rng.randrange(len(ITEMS)),
                               result="met" if self.rng.random() < 0.85 else "not_met", note="月度履约检查", now=t)
            made += self.add("commitment", commitment)
        return made

    def confirm_all(self, commitment: ServiceCommitment, a: dict[str, Actor], t: datetime) -> None:
        version = commitment.pending_version
        for who in ("branch", "committee", "pc"):
            t = self.t(self.later(t, 2, 48))
            commitment.confirm(by=a[who], list_version=version, now=t)

    def consultation(self, k: int, c: dict[str, Any], a: dict[str, Actor], year: int, month: int) -> int:
        """A consultation on one or two disputed needs; returns the needs' events."""
        needs = [self.need(k, c, a, year, month, None, disputed=True)
                 for _ in range(1 + (self.rng.random() < 0.3))]
        t = self.t(max(n.modified_on for n in needs) + timedelta(hours=self.rng.uniform(24, 96)))
        consultation = Consultation.propose(by=a["branch"], id=uuid4(), compound_id=UUID(c["id"]),
                                            topic="楼道堆物清理责任协商", description="物业与业主对处理方式有分歧",
                                            need_ids=[n.id for n in needs], now=t)
        for need in needs:
            need.escalate(by=a["branch"], consultation_id=consultation.id, now=t)
        t = self.t(self.later(t, 24, 96))
        consultation.convene(by=a["branch"], meets_at=t + timedelta(days=3), place="社区议事厅",
                             method="consensus", invited_party_ids=[UUID(c["parties"]["property_company"])], now=t)
        t += timedelta(days=3)
        for who in ("pc", "committee", "grid"):
            t = self.t(t + timedelta(minutes=20))
            consultation.record_opinion(by=a[who], text="同意按比例分担费用，限期清理", now=t)
        t = self.t(t + timedelta(minutes=30))
        consultation.record_resolution(by=a["branch"], text="由物业牵头清理，费用按户分摊", now=t)
        t = self.t(self.later(t, 2, 48))
        consultation.publish(by=a["branch"], note="公示七日", now=t)
        for need in needs:
            need.return_from_consultation(by=a["branch"], consultation_id=consultation.id,
                                          outcome=consultation.outcome, resolution=consultation.resolution,
                                          policy=self.policy, now=t)
            tn = self.t(self.later(t, 1, 24))
            need.acknowledge(by=a["pc"], now=tn)
            tn = self.t(self.later(tn, 24, 120))
            need.resolve(by=a["pc"], outcome="按协商结果处理完毕", now=tn)
            self.finish(need, a, a["pc"], tn, 0.9)
        need_events = sum(len(n.pending_events) for n in needs)
        self.add("consultation", consultation)
        self.add("need", *needs)
        return need_events

    # -- the run -------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        began = time.perf_counter()
        slots = max(len(self.mine) * len(self.months), 1)
        quota = {kind: self.events * share / slots for kind, share in MIX.items()}
        carry = {(k, kind): 0.0 for k, _ in self.mine for kind in MIX}
        actors = {k: _actors(c, k) for k, c in self.mine}
        last = len(self.months) - 1
        with self.clock:
            for mi, (year, month) in enumerate(self.months):
                for k, c in self.mine:
                    a = actors[k]
                    carry[k, "commitment"] += quota["commitment"]
                    carry[k, "commitment"] -= self.commitment(k, c, a, year, month, carry[k, "commitment"])
                    carry[k, "visit"] += quota["visit"]
                    while carry[k, "visit"] >= 1:
                        self.visit(c, a, year, month)
                        carry[k, "visit"] -= 1
                    carry[k, "consultation"] += quota["consultation"]
                    while carry[k, "consultation"] >= 7:  # a consultation's own events
                        carry[k, "need"] -= self.consultation(k, c, a, year, month)
                        carry[k, "consultation"] -= 7
                    carry[k, "need"] += quota["need"]
                    while carry[k, "need"] >= 1:
                        if mi == last:
                            open_stage = self.rng.randint(1, 6)
                        elif mi == last - 1 and self.rng.random() < 0.4:
                            open_stage = self.rng.randint(3, 5)
                        else:
                            open_stage = None
                        need = self.need(k, c, a, year, month, open_stage)
                        carry[k, "need"] -= self.add("need", need)
            self.flush()
        seconds = time.perf_counter() - began
        return {"events": self.written, "needs": self.needs, "seconds": seconds,
                "rate": self.written / seconds if seconds else 0.0, "by_kind": self.counts,
                "sample": self.sample, "sample_district": self.sample_district}


def seed(app: Any, world: dict[str, Any], events: int, index: int = 0, procs: int = 1,
         batch_events: int = 5000) -> dict[str, Any]:
    """Seed about ``events`` events of history for every ``procs``-th compound from ``index``."""
    return Seeder(app, world, events, index, procs, batch_events).run()


def main() -> int:
    from bench.common import Pg
    from infrastructure.store import build_services

    schema, events, index, procs, world_path, pg_json = sys.argv[1:7]
    pg = Pg(**json.loads(pg_json))
    with open(world_path) as f:
        world = json.load(f)
    services = build_services(pg.settings(schema))
    try:
        result = seed(services.app, world, int(events), int(index), int(procs))
    finally:
        services.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
