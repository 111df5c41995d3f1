"""What went wrong, for a person: the API's status and words for an error,
and, in Chinese, what happened and what to do about it.

``problem_of`` maps an exception to the status the API answers for it
(``api.errors``), the API's own text (kept, e.g. for whoever reads the
logs), and a sentence in Chinese built from what the error carries (the
status a case is in, the commands it allows, the versions, the field and
its limit); ``None`` for an exception the API would answer with a 500,
which the console lets through as well. In English the console shows the
API's own words, which already say what to do.

The domain's messages are English sentences; the ones a console user can
meet are recognised here by their pattern. One this module does not know
still reads as a Chinese sentence (by its status and field) with the API's
text beside it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from pydantic import ValidationError

from api.errors import ViewsBehind
from application.base import StaleVersion
from application.labels import LABELS, label
from domain.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    InvalidValue,
    NotFound,
    NotPermitted,
)

log = logging.getLogger(__name__)

# The API's own words for these (``api.errors``, ``api.deps``).
CHANGED_MEANWHILE = "the case changed while this command ran; reload and try again"
DATABASE_DOWN = "the database is unavailable; try again shortly"
BAD_TOKEN = "invalid or revoked token"


@dataclass(frozen=True)
class Problem:
    """An error as the console shows it."""

    status: int
    detail: str  # the API's own text
    zh: str  # in Chinese: what happened and what to do
    en: str | None = None  # in English, when not the API's own text
    fields: frozenset[str] = field(default_factory=frozenset)  # the form fields at fault

    def message(self, lang: str) -> str:
        return self.zh if lang == "zh" else (self.en or self.detail)


# ----- words -----------------------------------------------------------------------------

# The names people know the fields by (the form's labels).
FIELDS = {
    "compound_id": "小区",
    "status": "状态",
    "category": "类别",
    "party_id": "责任方",
    "overdue": "是否超时",
    "cursor": "翻页位置",
    "month_from": "起始月份",
    "month_to": "截止月份",
    "priority": "优先级",
    "outcome": "办理结果",
    "evaluation": "评价",
    "comment": "评价意见",
    "reason": "理由",
    "commitment_id": "服务清单",
    "commitment": "服务清单",
    "commitment_item_no": "清单条目编号",
    "version": "版本号",
    "title": "标题",
    "description": "描述",
    "source": "来源",
    "location": "位置",
    "household_id": "住户",
    "building_id": "楼栋",
    "need_id": "诉求编号",
    "consultation_id": "协商议事编号",
    "commitment_item": "清单条目",
    "into_need_id": "合并到的诉求",
    "working_days": "延期工作日数",
    "resolve_due": "办结时限",
    "attachments": "附件",
    "text": "内容",
    "note": "说明",
    "obtained_by": "评价获取方式",
    "resolved": "是否已解决",
    "token": "访问令牌",
    "keyword": "关键词",
    "q": "关键词",
    "offer_id": "服务项目",
    "toward": "提出对象",
    "raised_by_party_id": "提出单位",
    "coordination": "协调配合",
    "cooperation": "居民配合",
    "capacity": "名额",
    "schedule": "时间安排",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "visit_id": "入户走访",
}

# Commands, as the trail and the case page name them.
COMMANDS = {
    # a need
    "register": "登记",
    "accept": "受理",
    "reject": "不予受理",
    "merge": "合并",
    "withdraw": "撤回",
    "assign": "派单",
    "transfer": "转办",
    "acknowledge": "响应",
    "escalate": "提交协商议事",
    "resolve": "办结",
    "evaluate": "评价",
    "close": "归档",
    "extend": "延期",
    "add_note": "添加备注",
    "supervise": "督办",
    "return from consultation": "从协商议事退回",
    "evaluate_compound": "评价小区方面的配合",
    # a consultation
    "attach_need": "加入诉求",
    "convene": "召集会议",
    "record_opinion": "记录意见",
    "vote": "表决",
    "close_vote": "结束表决",
    "record_resolution": "记录决议",
    "publish": "公示决议",
    "add_actions": "添加行动事项",
    "complete_action": "完成行动事项",
    "cancel": "取消",
    # a service list
    "opinion": "提出意见",
    "confirm": "确认",
    "amend": "修订",
    "inspect": "检查履约",
    "suspend": "暂停",
    "resume": "恢复",
    "terminate": "终止",
}
_SUBJECTS = (
    ("need_status", "这件诉求", ("register", "accept", "reject", "merge", "withdraw", "assign",
                                 "transfer", "acknowledge", "escalate", "resolve", "evaluate",
                                 "close", "extend", "add_note", "supervise",
                                 "return from consultation", "evaluate_compound")),
    ("consultation_status", "这次协商议事", ("attach_need", "convene", "record_opinion", "vote",
                                            "close_vote", "record_resolution", "publish",
                                            "add_actions", "complete_action", "cancel")),
    ("commitment_status", "这份服务清单", ("opinion", "confirm", "amend", "inspect", "suspend",
                                          "resume", "terminate")),
)

# What each permission lets a role do (``application.access.PERMISSIONS``).
ACTIONS = {
    "assessment.close": "结算月度考评",
    "assessment.read": "查看月度考评",
    "audit.checkpoint": "签发日志检查点",
    "person.erase": "删除个人信息",
    "audit.read": "查看争议审计",
    "board.link": "管理小区公示栏的链接",
    "commitment.amend": "修订服务清单",
    "commitment.confirm": "确认服务清单",
    "commitment.draft": "起草服务清单",
    "commitment.inspect": "检查服务清单履约",
    "commitment.opinion": "对服务清单提意见",
    "commitment.read": "查看服务清单",
    "commitment.resume": "恢复服务清单",
    "commitment.suspend": "暂停服务清单",
    "commitment.terminate": "终止服务清单",
    "compound.change": "修改小区信息",
    "compound.read": "查看小区",
    "compound.register": "登记小区",
    "consultation.add_actions": "添加议事行动事项",
    "consultation.cancel": "取消协商议事",
    "consultation.close_vote": "结束表决",
    "consultation.complete_action": "完成议事行动事项",
    "consultation.convene": "召集协商议事",
    "consultation.propose": "发起协商议事",
    "consultation.publish": "公示议事决议",
    "consultation.read": "查看协商议事",
    "consultation.record_opinion": "记录议事意见",
    "consultation.record_resolution": "记录议事决议",
    "consultation.vote": "参加表决",
    "need.accept": "受理诉求",
    "need.acknowledge": "响应诉求",
    "need.add_note": "添加诉求备注",
    "need.assign": "派单",
    "need.close": "归档诉求",
    "need.escalate": "将诉求提交协商议事",
    "need.evaluate": "评价诉求办理结果",
    "need.evaluate_compound": "评价小区方面的配合（双向评价）",
    "need.exclude": "将诉求排除出考评",
    "need.extend": "延长办结时限",
    "need.merge": "合并诉求",
    "need.read": "查看诉求",
    "need.register": "登记诉求",
    "need.reject": "不予受理诉求",
    "need.resolve": "办结诉求",
    "need.supervise": "督办诉求",
    "need.transfer": "转办诉求",
    "need.withdraw": "撤回诉求",
    "offer.change": "修改服务项目",
    "offer.publish": "发布服务项目",
    "offer.read": "查看服务项目",
    "offer.withdraw": "撤回服务项目",
    "party.read": "查看责任主体",
    "party.register": "登记责任主体",
    "stats.read": "查看统计",
    "visit.read": "查看入户走访",
    "visit.record": "记录入户走访",
    "webhook.manage": "管理外发通知（Webhook）订阅",
    "webhook.read": "查看外发通知（Webhook）订阅",
}

# What a "... not found" names.
THINGS = {
    "need": "诉求",
    "consultation": "协商议事",
    "service commitment": "服务清单",
    "commitment": "服务清单",
    "compound": "小区",
    "party": "责任主体",
    "household": "住户",
    "building": "楼栋",
    "person": "人员",
    "assessment": "月度考评",
    "offer": "服务项目",
    "page": "页面",
}

RELOAD = "请刷新页面，确认最新情况后再操作。"
PICK = "请从列表中选择。"


def field_name(name: str) -> str:
    return FIELDS.get(name, name)


def command_name(command: str) -> str:
    return COMMANDS.get(command, command)


def _status_label(command: str, status: str) -> tuple[str, str]:
    """The subject ("这件诉求") and its status's label, by what the command acts on."""
    for kind, subject, commands in _SUBJECTS:
        if command in commands:
            return subject, label(kind, status, "zh")
    for kind, subject, _ in _SUBJECTS:
        if str(status) in LABELS[kind]["zh"]:
            return subject, label(kind, status, "zh")
    return "这件事项", str(status)


def _local(text: str, zone: str) -> str:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# ----- a field's value: the domain's words and pydantic's --------------------------------

# (pattern of the domain's message, the Chinese for it); ``{f}`` is the field's
# name, ``{0}``, ``{1}``... the pattern's groups.
_VALUE_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str], str, str], str]]] = [
    (
        re.compile(r"must be a valid UUID in the address"),
        "链接中的「{f}」不完整或有误，请回到列表重新打开。",
    ),
    (re.compile(r"must not be empty"), "「{f}」不能为空，请填写。"),
    (re.compile(r"must be text"), "「{f}」应为文字。"),
    (
        re.compile(r"must be at most (\d+) characters, got (\d+)"),
        "「{f}」最多 {0} 个字，现在有 {1} 个，请删减。",
    ),
    (
        re.compile(r"must not contain the control character (U\+[0-9A-F]+)"),
        "「{f}」含有看不见的控制字符（{0}），通常来自复制粘贴。请删除后重新输入。",
    ),
    (
        re.compile(r"a reason is required for reassigning a need"),
        "改派诉求时必须填写「理由」，说明为什么换一个责任方。",
    ),
    (re.compile(r"a reason is required for (.+)"), "此操作必须填写「理由」。"),
    (
        re.compile(r"cite a commitment and an item number together"),
        "引用服务清单时，请同时选择「服务清单」并填写「清单条目编号」；不引用则两项都留空。",
    ),
    (
        re.compile(r"a party of kind '(\w+)' cannot handle needs"),
        lambda m, f, zone: (
            f"「{LABELS['party_kind']['zh'].get(m.group(1)) or label('role', m.group(1), 'zh')}」"
            "不承办诉求，"
            "请派给物业服务企业、业主委员会、小区党支部或共建单位。"
        ),
    ),
    (re.compile(r"'.*' is not one of "), "「{f}」的取值无效，" + PICK),
    (re.compile(r"no such party in this compound"), "本小区没有这个责任主体，" + PICK),
    (re.compile(r"no such compound among yours"), "您负责的小区中没有这个小区，" + PICK),
    (re.compile(r"no such building in this compound"), "本小区没有这个楼栋，" + PICK),
    (re.compile(r"no such household in this compound"), "本小区没有这户住户，" + PICK),
    (
        re.compile(r"no such service commitment"),
        "找不到这份服务清单，或它不属于本诉求所在的小区，" + PICK,
    ),
    (
        re.compile(r"the service list is not the assigned party's own list"),
        "所选服务清单不是承办方自己的清单。请选择承办方的服务清单，或不引用清单。",
    ),
    (
        re.compile(r"the service list has not taken effect yet"),
        "所选服务清单还没有生效（各方尚未确认），暂不能引用。",
    ),
    (
        re.compile(r"the service list is (\w+)"),
        lambda m, f, zone: (
            f"所选服务清单当前为「{label('commitment_status', m.group(1), 'zh')}」，不能引用。"
        ),
    ),
    (
        re.compile(r"item (\d+) is not in version (\d+), the version in effect"),
        "第 {0} 项不在现行的第 {1} 版服务清单中，请核对「清单条目编号」。",
    ),
    (re.compile(r"must not be after month_to"), "「起始月份」不能晚于「截止月份」，请调整。"),
    (re.compile(r"at most (\d+) months at once"), "一次最多查看 {0} 个月，请缩小月份范围。"),
    (
        re.compile(r"must be the case's version number"),
        "表单中的版本号无效（页面可能被改动过）。" + RELOAD,
    ),
    (
        re.compile(r"a resident reports needs as 'self_report'"),
        "居民只能以「居民自报」的方式登记诉求。",
    ),
    (re.compile(r"must be between (\d+) and (\d+)"), "「{f}」应在 {0} 到 {1} 之间。"),
    (
        re.compile(r"must be later than the current deadline (\S+)"),
        lambda m, f, zone: f"新的办结时限须晚于当前时限（{_local(m.group(1), zone)}）。",
    ),
    (
        re.compile(r"must be at most (\d+) days after the current deadline (\S+)"),
        lambda m, f, zone: (
            f"新的办结时限最多比当前时限（{_local(m.group(2), zone)}）晚 {m.group(1)} 天。"
        ),
    ),
    (
        re.compile(r"say how the reporter's evaluation was obtained"),
        "代登记人记录评价时，请选择「评价获取方式」（电话回访、入户回访或当面）。",
    ),
    (
        re.compile(r"only an evaluation recorded on the reporter's behalf says how"),
        "登记人本人评价时不需要选择「评价获取方式」，请留空。",
    ),
    (re.compile(r"a need cannot be merged into itself"), "诉求不能合并到它自己。"),
    (re.compile(r"at most (\d+) references"), "「{f}」最多 {0} 个。"),
]


def _value_text(field_code: str, message: str, zone: str) -> str:
    f = field_name(field_code)
    for pattern, text in _VALUE_RULES:
        found = pattern.search(message)
        if found:
            if callable(text):
                return text(found, f, zone)
            return text.format(*found.groups(), f=f)
    return f"「{f}」的值不符合要求，请检查后重新提交。"


def _field_of(loc: tuple[int | str, ...]) -> str:
    names = [part for part in loc if isinstance(part, str) and part not in ("body", "query")]
    return names[0] if names else ""


def _pydantic_text(error: dict[str, object], zone: str) -> str:
    """One of pydantic's errors, in Chinese, by its type (not its English words)."""
    code = _field_of(error.get("loc", ()))  # type: ignore[arg-type]
    f = field_name(code)
    kind = str(error.get("type", ""))
    ctx: dict[str, object] = error.get("ctx") or {}  # type: ignore[assignment]
    if kind == "missing":
        return f"「{f}」是必填项，请填写或选择。"
    if kind == "string_too_short":
        return f"「{f}」不能为空，请填写。"
    if kind == "string_too_long":
        return f"「{f}」最多 {ctx.get('max_length')} 个字，请删减。"
    if kind.startswith("uuid"):
        return f"「{f}」不是有效的编号，" + PICK
    if kind in ("enum", "literal_error"):
        return f"「{f}」的取值无效，" + PICK
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"「{f}」应为整数。"
    if kind in ("bool_parsing", "bool_type"):
        return f"「{f}」应为“是”或“否”。"
    if kind == "greater_than_equal":
        return f"「{f}」不能小于 {ctx.get('ge')}。"
    if kind == "greater_than":
        return f"「{f}」应大于 {ctx.get('gt')}。"
    if kind == "less_than_equal":
        return f"「{f}」不能大于 {ctx.get('le')}。"
    if kind == "less_than":
        return f"「{f}」应小于 {ctx.get('lt')}。"
    if kind == "string_pattern_mismatch":
        if code.startswith("month"):
            return f"「{f}」应为“年-月”，例如 2026-05。"
        if code == "q":
            return f"「{f}」不能含换行、制表符等看不见的控制字符。"
        return f"「{f}」的格式不对。"
    if kind == "value_error":
        return _value_text(code, str(error.get("msg", "")), zone)
    return f"「{f}」的值不符合要求，请检查后重新提交。"


def validation_text(error: ValidationError) -> str:
    """pydantic's errors as the API's 422s word them: ``field: message``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
    )


# ----- the errors ------------------------------------------------------------------------


def _transition(error: IllegalTransition, zone: str) -> str:
    command = error.command
    subject, status = _status_label(command.split(" (")[0], str(error.status))
    allowed = "、".join(command_name(c) for c in error.allowed)
    window = re.fullmatch(r"close before the evaluation window ends at (\S+)", command)
    if window:
        said = f"评价期到 {_local(window.group(1), zone)} 才结束，现在还不能归档。"
    elif command.endswith("(no draft awaits confirmation)"):
        said = f"{subject}没有等待确认的修订稿，不能{command_name(command.split(' (')[0])}。"
    else:
        said = f"{subject}现在是「{status}」，不能{command_name(command)}。"
    if allowed:
        said += f"现在可以：{allowed}。"
    else:
        said += "它已办理完毕，不能再做任何操作。"
    return said + "页面上的情况可能已经过时，" + RELOAD


def _not_permitted(message: str) -> str:
    role = re.fullmatch(r"role '(\w+)' may not (\w+) (\w+)", message)
    if role:
        who = label("role", role.group(1), "zh")
        action = f"{role.group(2)}.{role.group(3)}"
        what = ACTIONS.get(action, "执行此操作")
        return (
            f"您的角色（{who}）无权{what}。"
            "如需办理，请交由有此权限的人员，或联系管理员调整您的权限。"
        )
    staff = re.fullmatch(r"only the staff of the assigned party may (\w+) this need", message)
    if staff:
        return (
            f"只有承办这件诉求的责任方的工作人员才能{command_name(staff.group(1))}。"
            "如果派错了单位，请联系社区工作人员改派。"
        )
    reporter = re.fullmatch(
        r"only the reporter, or community staff or a grid worker on their behalf, (\w+)", message
    )
    if reporter:
        verb = {"evaluates": "评价", "withdraws": "撤回"}.get(reporter.group(1), "办理")
        return f"只有登记人本人，或代其办理的社区工作人员、网格员，才能{verb}这件诉求。"
    if message == "only the assigned party's (or the raising party's) staff add notes among the parties":
        return "只有承办（或提出）这件诉求的责任方的工作人员才能添加责任方之间的备注。"
    if message.startswith("only the staff of the party that resolved this need evaluate"):
        return "只有办结这件诉求的责任方的工作人员才能评价小区方面的配合。"
    if message.startswith("only a property company or a co-building unit that resolved"):
        return "只有办结这件诉求的物业服务企业或共建单位才能评价小区方面的配合。"
    if message.startswith("only the staff of the offering unit may"):
        return "只有发布这个服务项目的共建单位的工作人员才能修改或撤回它。"
    return "您没有权限执行此操作。如需办理，请交由有此权限的人员，或联系管理员。"


def _not_found(message: str) -> str:
    found = re.fullmatch(r"(.+) not found", message)
    what = found.group(1) if found else ""
    item = re.fullmatch(r"action item (\d+)", what)
    if item:
        return f"找不到第 {item.group(1)} 项行动事项，请核对编号。"
    thing = THINGS.get(what.lower())
    return (
        f"找不到{'该' + thing if thing else '要找的内容'}，或您无权查看。"
        "请回到列表重新查找；如果链接是别人发来的，请确认它属于您负责的小区。"
    )


def _conflict(message: str) -> str:
    if message == CHANGED_MEANWHILE or message.endswith("kept changing; try again"):
        return "您提交的同时，别人也修改了这件诉求，本次操作没有保存。" + RELOAD
    return "此操作与当前情况冲突，没有执行。" + RELOAD


def problem_of(error: Exception, zone: str = "Asia/Shanghai") -> Problem | None:
    """The API's status and text for an error, as ``api.errors`` maps it, and what
    to say in Chinese; times in ``zone``."""
    if isinstance(error, IllegalTransition):
        return Problem(409, error.message, _transition(error, zone))
    if isinstance(error, Conflict):
        return Problem(409, error.message, _conflict(error.message))
    if isinstance(error, InvalidValue):
        message = error.message.removeprefix(f"{error.field}: ")
        return Problem(
            422, error.message, _value_text(error.field, message, zone), fields=frozenset({error.field})
        )
    if isinstance(error, NotPermitted):
        return Problem(403, error.message, _not_permitted(error.message))
    if isinstance(error, NotFound):
        return Problem(404, error.message, _not_found(error.message))
    if isinstance(error, DomainError):
        return Problem(
            422, error.message, "提交的内容不符合办理规则，没有执行。请按下方的说明修改后重试。"
        )
    if isinstance(error, StaleVersion):
        return Problem(
            412,
            str(error),
            f"这件诉求已经被别人更新：您打开页面时是第 {error.expected} 版，现在是第 "
            f"{error.actual} 版。本次操作没有执行，" + RELOAD,
        )
    if isinstance(error, ViewsBehind):
        return Problem(503, str(error), "刚记录的变动还在同步，请过几秒钟刷新页面。")
    if isinstance(error, ValidationError):
        details = error.errors()
        said = "".join(_pydantic_text(dict(e), zone) for e in details)  # type: ignore[arg-type]
        fields = frozenset(_field_of(tuple(e["loc"])) for e in details)
        return Problem(422, validation_text(error), said + "请修改后重试。", fields=fields)
    if isinstance(error, IntegrityError):
        return Problem(409, CHANGED_MEANWHILE, _conflict(CHANGED_MEANWHILE))
    if isinstance(error, OperationalError | InterfaceError):
        log.warning("database unavailable: %s", type(error).__name__)
        return Problem(
            503,
            DATABASE_DOWN,
            "数据库暂时连不上，本次操作没有保存。请稍等片刻再试；如果一直这样，请联系系统管理员。",
        )
    return None


def bad_token() -> Problem:
    """Sign-in with a token the credentials do not know (the API's 401)."""
    return Problem(
        401,
        BAD_TOKEN,
        "访问令牌无效或已被吊销。请检查是否完整粘贴了令牌（不要多出空格或换行）；"
        "仍无法登录时，请联系管理员重新签发。",
    )


def not_found_page() -> Problem:
    """A console address that names no page."""
    return Problem(
        404, "Not Found", "没有这个页面，可能是链接不完整。请从顶部的菜单进入。",
        en="There is no such page; use the menu at the top.",
    )


def expired_form(zh: str, en: str) -> Problem:
    """A form without this session's CSRF token."""
    return Problem(403, "csrf token missing or invalid", zh, en=en)
