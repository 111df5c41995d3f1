"""Demo data: one compound with its parties and a few needs in various states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from application.app import Linli
from domain.actor import Actor, Role


@dataclass
class DemoCompound:
    compound_id: UUID
    households: list[UUID] = field(default_factory=list)
    parties: dict[str, UUID] = field(default_factory=dict)


# The demo's people, one a role, by display name. ``seed`` is given their
# person ids (``linli serve --demo`` registers them); events name the ids.
DEMO_PEOPLE: dict[Role, str] = {
    Role.RESIDENT: "张秀英",
    Role.GRID_WORKER: "刘网格",
    Role.PARTY_BRANCH: "陈书记",
    Role.OWNERS_COMMITTEE: "赵主任",
    Role.PROPERTY_COMPANY: "孙经理",
    Role.CO_BUILDING_UNIT: "周队长",
    Role.COMMUNITY_STAFF: "王芳",
    Role.SUPERVISOR: "吴督查",
    Role.ADMIN: "系统管理员",
}


def seed(app: Linli, people: Mapping[Role, str] | None = None) -> DemoCompound:
    """The demo compound; ``people`` gives each role's person id (by default
    the role's code, for tests that need no registry)."""
    ids = people or {role: f"demo-{role.value}" for role in Role}
    staff = Actor(ids[Role.COMMUNITY_STAFF], Role.COMMUNITY_STAFF, compound_ids=None)
    compound = app.register_compound(
        staff, name="幸福里小区", community="和平社区", address="和平路 88 号"
    )
    demo = DemoCompound(compound.id)
    for building_name in ("1号楼", "2号楼"):
        building_id, _ = app.add_building(staff, compound.id, name=building_name)
        for floor in (1, 2, 3):
            for door in (1, 2):
                household_id, _ = app.add_household(
                    staff,
                    compound.id,
                    building_id=building_id,
                    number=f"{floor}0{door}",
                    exclusive_area=Decimal("89.50") + floor,
                )
                demo.households.append(household_id)
    for kind, name in (
        ("property_company", "安居物业服务有限公司"),
        ("owners_committee", "幸福里业主委员会"),
        ("party_branch", "幸福里小区党支部"),
        ("co_building_unit", "和平志愿服务队"),
    ):
        demo.parties[kind] = app.register_party(
            staff, compound_id=compound.id, kind=kind, name=name
        ).id

    scoped = Actor(
        ids[Role.COMMUNITY_STAFF], Role.COMMUNITY_STAFF, compound_ids=frozenset({compound.id})
    )
    grid = Actor(ids[Role.GRID_WORKER], Role.GRID_WORKER, compound_ids=frozenset({compound.id}))
    property_staff = Actor(
        ids[Role.PROPERTY_COMPANY],
        Role.PROPERTY_COMPANY,
        compound_ids=frozenset({compound.id}),
        party_id=demo.parties["property_company"],
    )
    lift = app.register_need(
        grid,
        compound_id=compound.id,
        source="household_visit",
        title="2号楼电梯停运",
        description="2号楼电梯自周一起停运，三楼以上老人出行困难。",
        category="facilities",
        household_id=demo.households[7],
    ).id
    app.accept_need(scoped, lift, priority="urgent")
    app.assign_need(scoped, lift, party_id=demo.parties["property_company"])
    app.acknowledge_need(property_staff, lift)
    noise = app.register_need(
        grid,
        compound_id=compound.id,
        source="household_visit",
        title="楼上装修噪音",
        description="1号楼 302 晚间装修噪音，影响休息。",
        category="neighbour_dispute",
        household_id=demo.households[2],
    ).id
    app.accept_need(scoped, noise, priority="normal")
    branch = Actor(
        ids[Role.PARTY_BRANCH],
        Role.PARTY_BRANCH,
        compound_ids=frozenset({compound.id}),
        party_id=demo.parties["party_branch"],
    )
    committee = Actor(
        ids[Role.OWNERS_COMMITTEE],
        Role.OWNERS_COMMITTEE,
        compound_ids=frozenset({compound.id}),
        party_id=demo.parties["owners_committee"],
    )
    service_list = app.draft_commitment(
        branch,
        compound_id=compound.id,
        provider_party_id=demo.parties["property_company"],
        title="2026 年度物业服务清单",
        items=[
            {
                "number": 1,
                "title": "公共区域保洁",
                "standard": "楼道、电梯轿厢每日清扫一次",
                "frequency": "每日",
                "time_limit": "24h",
            },
            {
                "number": 2,
                "title": "电梯维保",
                "standard": "每半月保养一次，故障 2 小时内到场",
                "frequency": "每半月",
                "time_limit": "2h",
            },
            {
                "number": 3,
                "title": "绿化养护",
                "standard": "草坪修剪、病虫害防治",
                "frequency": "每月",
                "time_limit": "3wd",
            },
        ],
    ).id
    for actor in (branch, committee, property_staff):
        app.confirm_commitment(actor, service_list, list_version=1)
    app.inspect_commitment_item(
        committee, service_list, item_no=1, result="met", note="抽查 1、2 号楼楼道，整洁"
    )
    app.assign_need(scoped, noise, party_id=demo.parties["owners_committee"])
    app.propose_consultation(
        branch,
        compound_id=compound.id,
        topic="装修噪音扰民：装修时段如何约定",
        need_ids=[noise],
    )
    app.register_need(
        scoped,
        compound_id=compound.id,
        source="hotline",
        title="垃圾分类点异味",
        description="12345 转办：小区东门垃圾分类点夏季异味明显。",
        category="environment",
    )
    return demo
