"""Words for codes: every code a person may read (statuses, categories,
sources, roles, outcomes, ...) with its label in Simplified Chinese and in
English. The console, the trails' summaries and the exports all read them
here, so that one code reads the same everywhere."""

from __future__ import annotations

from domain.actor import ROLE_LABELS_ZH
from domain.commitment import CONFIRMING_PARTY_LABELS_ZH, VERSION_STATE_LABELS_ZH
from domain.commitment import STATUS_LABELS_ZH as COMMITMENT_STATUS_ZH
from domain.consultation import (
    CHOICE_LABELS_ZH,
    MAJOR_RULE,
    MATTER_LABELS_ZH,
    METHOD_LABELS_ZH,
    ORDINARY_RULE,
    OUTCOME_LABELS_ZH,
    QUORUM_RULE,
)
from domain.consultation import STATUS_LABELS_ZH as CONSULTATION_STATUS_ZH
from domain.need import STATUS_LABELS_ZH
from domain.offer import STATUS_LABELS_ZH as OFFER_STATUS_ZH
from domain.party import PARTY_KIND_LABELS_ZH

_ROLE_EN = {
    "resident": "Resident",
    "grid_worker": "Grid worker",
    "party_branch": "Party branch",
    "owners_committee": "Owners' committee",
    "property_company": "Property company",
    "co_building_unit": "Co-building unit",
    "community_staff": "Community staff",
    "supervisor": "Supervisor",
    "admin": "Administrator",
}
LABELS: dict[str, dict[str, dict[str, str]]] = {
    "need_status": {
        "zh": {str(k): v for k, v in STATUS_LABELS_ZH.items()},
        "en": {
            "reported": "Reported",
            "accepted": "Accepted",
            "assigned": "Assigned",
            "in_progress": "In progress",
            "escalated": "In consultation",
            "resolved": "Resolved",
            "closed": "Closed",
            "rejected": "Rejected",
            "merged": "Merged",
            "transferred": "Transferred",
            "withdrawn": "Withdrawn",
        },
    },
    "category": {
        "zh": {
            "property_service": "物业服务",
            "facilities": "设施设备",
            "environment": "环境卫生",
            "safety": "安全隐患",
            "neighbour_dispute": "邻里纠纷",
            "public_service": "公共服务",
            "owners_rights": "业主权益",
            "other": "其他",
        },
        "en": {
            "property_service": "Property service",
            "facilities": "Facilities",
            "environment": "Environment",
            "safety": "Safety",
            "neighbour_dispute": "Neighbour dispute",
            "public_service": "Public service",
            "owners_rights": "Owners' rights",
            "other": "Other",
        },
    },
    "priority": {
        "zh": {"urgent": "紧急", "normal": "一般", "low": "较低"},
        "en": {"urgent": "Urgent", "normal": "Normal", "low": "Low"},
    },
    "source": {
        "zh": {
            "household_visit": "入户摸排",
            "self_report": "居民自报",
            "hotline": "12345 转办",
            "inspection": "巡查",
            "consultation": "议事提出",
            "party_request": "共建单位/物业提出",
        },
        "en": {
            "household_visit": "Household visit",
            "self_report": "Self report",
            "hotline": "12345 hotline",
            "inspection": "Inspection",
            "consultation": "Consultation",
            "party_request": "Raised by a party",
        },
    },
    "role": {"zh": {str(k): v for k, v in ROLE_LABELS_ZH.items()}, "en": _ROLE_EN},
    "party_kind": {"zh": dict(PARTY_KIND_LABELS_ZH), "en": _ROLE_EN},
    "evaluation": {
        "zh": {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"},
        "en": {
            "satisfied": "Satisfied",
            "basically_satisfied": "Basically satisfied",
            "unsatisfied": "Unsatisfied",
        },
    },
    "consultation_status": {
        "zh": {str(k): v for k, v in CONSULTATION_STATUS_ZH.items()},
        "en": {
            "proposed": "Proposed",
            "convened": "Convened",
            "adopted": "Adopted",
            "rejected": "Rejected",
            "no_quorum": "No quorum",
            "agreed": "Agreed",
            "published": "Resolution published",
            "closed": "Closed",
            "cancelled": "Cancelled",
        },
    },
    "method": {
        "zh": dict(METHOD_LABELS_ZH),
        "en": {"vote": "Owners' vote", "consensus": "Consensus meeting"},
    },
    "outcome": {
        "zh": dict(OUTCOME_LABELS_ZH),
        "en": {
            "adopted": "adopted",
            "rejected": "rejected",
            "no_quorum": "no quorum",
            "consensus": "consensus",
            "cancelled": "cancelled",
        },
    },
    "matter": {
        "zh": dict(MATTER_LABELS_ZH),
        "en": {
            "ordinary": "Ordinary matter (Civil Code Art. 278)",
            "raise_maintenance_fund": "Raising the maintenance fund (item 6)",
            "rebuild_or_reconstruct": "Rebuilding or reconstruction (item 7)",
            "change_common_parts_use": "Changing the use of common parts (item 8)",
        },
    },
    "choice": {
        "zh": dict(CHOICE_LABELS_ZH),
        "en": {"for": "For", "against": "Against", "abstain": "Abstain"},
    },
    "commitment_status": {
        "zh": {str(k): v for k, v in COMMITMENT_STATUS_ZH.items()},
        "en": {
            "draft": "Draft (awaiting confirmations)",
            "in_effect": "In effect",
            "suspended": "Suspended",
            "terminated": "Terminated",
        },
    },
    "version_state": {
        "zh": {str(k): v for k, v in VERSION_STATE_LABELS_ZH.items()},
        "en": {
            "pending": "pending",
            "superseded": "superseded by a newer draft",
            "withdrawn": "withdrawn",
            "in_effect": "in effect",
            "replaced": "replaced by a newer version",
            "ended": "ended with the list",
        },
    },
    "vote_rule": {
        "zh": {
            QUORUM_RULE: "专有部分面积占比三分之二以上且人数占比三分之二以上的业主参与表决",
            ORDINARY_RULE: "经参与表决专有部分面积过半数且参与表决人数过半数的业主同意",
            MAJOR_RULE: "经参与表决专有部分面积四分之三以上且参与表决人数四分之三以上的业主同意",
        },
        "en": {QUORUM_RULE: QUORUM_RULE, ORDINARY_RULE: ORDINARY_RULE, MAJOR_RULE: MAJOR_RULE},
    },
    "confirming_party": {
        "zh": dict(CONFIRMING_PARTY_LABELS_ZH),
        "en": {
            "party_branch": "Party branch",
            "owners_committee": "Owners' committee",
            "provider": "Provider",
        },
    },
    "inspection_result": {
        "zh": {"met": "已履约", "not_met": "未履约"},
        "en": {"met": "met", "not_met": "not met"},
    },
    "obtained_by": {
        "zh": {"phone": "电话回访", "visit": "上门回访", "in_person": "当面询问"},
        "en": {"phone": "by phone", "visit": "on a visit", "in_person": "in person"},
    },
    "offer_status": {
        "zh": {str(k): v for k, v in OFFER_STATUS_ZH.items()},
        "en": {"published": "Published", "withdrawn": "Withdrawn"},
    },
    "offer_category": {
        "zh": {
            "education": "教育辅导",
            "family_support": "困难家庭帮扶",
            "elderly_care": "为老服务",
            "health": "健康服务",
            "legal_aid": "法律服务",
            "culture_sports": "文体活动",
            "volunteering": "志愿服务",
            "other": "其他",
        },
        "en": {
            "education": "Education and tutoring",
            "family_support": "Help for families in difficulty",
            "elderly_care": "Care for the elderly",
            "health": "Health",
            "legal_aid": "Legal aid",
            "culture_sports": "Culture and sports",
            "volunteering": "Volunteering",
            "other": "Other",
        },
    },
    "toward": {
        "zh": {"compound": "向小区提出"},
        "en": {"compound": "toward the compound"},
    },
    # The two-way evaluation (双向评价): what a provider evaluates of the compound's side.
    "compound_side_aspect": {
        "zh": {"coordination": "协调配合", "cooperation": "居民配合"},
        "en": {"coordination": "coordination", "cooperation": "residents' cooperation"},
    },
    "electorate_source": {
        "zh": {"explicit": "按召集时提交的业主名单", "households": "按小区登记的住户及业主"},
        "en": {
            "explicit": "as listed when convened",
            "households": "from the compound's registered households and owners",
        },
    },
}


def label(kind: str, code: object, lang: str = "zh") -> str:
    """The label of ``code`` among ``kind``'s, in ``lang``; "—" for no code, and
    the code itself, spaced, for one this table does not know."""
    if code is None or code == "":
        return "—"
    labels = LABELS.get(kind, {}).get(lang, {})
    return labels.get(str(code), str(code).replace("_", " "))
