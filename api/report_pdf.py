"""The monthly circulated report (月度通报) as a PDF, with fpdf2, and the
Chinese font it embeds.

The font: a CJK font found on the machine through fontconfig (``fc-list``),
else at a few standard places (Debian, Fedora, Arch, macOS, Windows). A font
with TrueType outlines is preferred (Debian's ``fonts-wqy-microhei``): fpdf2
embeds it as a CIDFontType2 subset (``/FontFile2``) with the Identity-H
encoding, whose text every reader and extractor reads back. An OpenType/CFF
font (Debian's ``fonts-noto-cjk``, ``.ttc``) serves otherwise: fpdf2 embeds
it too (``/FontFile3``), and it prints and shows the same, but its text comes
back through an embedded CMap that some extractors (pypdf) do not read.
Without any CJK font the report cannot be typeset: ``NoCjkFont``, which the
route answers 503 naming what to install.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos
from fpdf.fonts import FontFace

FAMILY = "cjk"
INSTALL_HINT = (
    "install a Chinese font, e.g. Debian's fonts-wqy-microhei (TrueType, preferred) "
    "or fonts-noto-cjk"
)


class NoCjkFont(Exception):
    """No font with Chinese glyphs on this machine."""


@dataclass(frozen=True)
class CjkFont:
    path: Path
    index: int  # the face in a collection (.ttc)
    outlines: str  # "TrueType" or "CFF"
    family: str


# Where distributions put CJK fonts, best first: (path, face, outlines, family).
KNOWN_PLACES = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, "TrueType", "WenQuanYi Micro Hei"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "TrueType", "WenQuanYi Zen Hei"),
    ("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc", 0, "TrueType", "WenQuanYi Micro Hei"),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0, "TrueType", "Droid Sans Fallback"),
    ("/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf", 0, "TrueType", "Droid Sans Fallback"),
    ("C:/Windows/Fonts/simhei.ttf", 0, "TrueType", "SimHei"),
    ("C:/Windows/Fonts/msyh.ttc", 0, "TrueType", "Microsoft YaHei"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, "CFF", "Noto Sans CJK SC"),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2, "CFF", "Noto Sans CJK SC"),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2, "CFF", "Noto Sans CJK SC"),
    ("/System/Library/Fonts/PingFang.ttc", 0, "CFF", "PingFang SC"),
)


def _score(font: CjkFont, weight: int) -> tuple[int, ...]:
    """Lower is better: TrueType outlines, regular weight, sans, proportional,
    simplified Chinese."""
    family = font.family
    return (
        font.outlines != "TrueType",
        abs(weight - 80),
        "Serif" in family,
        "Mono" in family,
        not any(mark in family for mark in (" SC", "GB", "Hei", "Fallback")),
        font.index,
    )


def _from_fontconfig() -> list[CjkFont]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listed = subprocess.run(
            [fc_list, "-f", "%{file}\t%{index}\t%{fontformat}\t%{family[0]}\t%{weight}\n", ":lang=zh-cn"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in listed.splitlines():
        parts = line.split("\t")
        if len(parts) != 5 or parts[2] not in ("TrueType", "CFF"):
            continue
        path = Path(parts[0])
        if path.suffix.lower() not in (".ttf", ".ttc", ".otf", ".otc") or not path.is_file():
            continue
        try:
            index, weight = int(parts[1]), int(float(parts[4] or 80))
        except ValueError:
            continue
        found.append((_score(CjkFont(path, index, parts[2], parts[3]), weight), CjkFont(path, index, parts[2], parts[3])))
    return [font for _, font in sorted(found, key=lambda pair: pair[0])]


_found: CjkFont | None = None
_finding = threading.Lock()


def find_cjk_font() -> CjkFont:
    """The machine's best CJK font (remembered once found; looked for again
    while none is)."""
    global _found
    with _finding:
        if _found is None:
            candidates = _from_fontconfig() or [
                CjkFont(Path(p), i, o, fam) for p, i, o, fam in KNOWN_PLACES if Path(p).is_file()
            ]
            if not candidates:
                raise NoCjkFont(f"no Chinese (CJK) font found for the PDF: {INSTALL_HINT}")
            _found = candidates[0]
        return _found


# ----- the document -----------------------------------------------------------------------


def rate_text(ratio: dict[str, Any] | None) -> str:
    if not ratio or ratio.get("rate") is None:
        return "—"
    return f"{ratio['rate'] * 100:.1f}%"


def fraction_text(ratio: dict[str, Any] | None) -> str:
    if not ratio:
        return ""
    return f"{ratio['numerator']}/{ratio['denominator']}"


def rate_cell(ratio: dict[str, Any] | None) -> str:
    """``50.0% (1/2)``, or ``—`` when out of none."""
    if not ratio or ratio.get("rate") is None:
        return "—"
    return f"{rate_text(ratio)} ({fraction_text(ratio)})"


class ReportPdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report_title = title
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(title)
        self.set_creator("Linli 邻里")
        self.set_lang("zh-CN")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.report_title} · 第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")
        self.set_text_color(0)


HEAD = FontFace(emphasis=None, fill_color=(232, 238, 245))


def _heading(pdf: ReportPdf, text: str) -> None:
    pdf.ln(3)
    pdf.set_font(FAMILY, size=12.5)
    pdf.set_text_color(20, 60, 110)
    pdf.multi_cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.set_font(FAMILY, size=9)


def _para(pdf: ReportPdf, text: str, size: float = 9, grey: bool = False) -> None:
    pdf.set_font(FAMILY, size=size)
    if grey:
        pdf.set_text_color(90)
    pdf.multi_cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)


def _table(pdf: ReportPdf, head: list[str], rows: list[list[str]], widths: tuple[float, ...]) -> None:
    pdf.set_font(FAMILY, size=8.5)
    with pdf.table(
        col_widths=widths,
        headings_style=HEAD,
        line_height=4.6,
        padding=1,
        cell_fill_color=(247, 248, 250),
        cell_fill_mode=TableCellFillMode.ROWS,
        text_align="LEFT",
        first_row_as_headings=True,
    ) as table:
        for values in [head, *rows]:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.ln(1)


def _party_rows(parties: list[dict[str, Any]], totals: dict[str, Any] | None, adjusted: bool) -> list[list[str]]:
    rows = []
    for p in parties:
        f = p["adjusted"] if adjusted else p
        rows.append(
            [
                p["party"] + (f"\n{p['kind_zh']}" if p.get("kind_zh") else ""),
                str(f["accepted"]),
                rate_cell(f["response_rate"]),
                rate_cell(f["resolution_rate"]),
                rate_cell(f["confirmed_resolution_rate"]),
                rate_cell(f["satisfaction_rate"]),
                str(f["overdue_open"]),
                str(f["redos"]),
            ]
        )
    if totals is not None:
        f = totals["adjusted"] if adjusted else totals
        rows.append(
            [
                "全小区合计",
                str(f["accepted"]),
                rate_cell(f["response_rate"]),
                rate_cell(f["resolution_rate"]),
                rate_cell(f["confirmed_resolution_rate"]),
                rate_cell(f["satisfaction_rate"]),
                str(f["overdue_open"]),
                str(f["redos"]),
            ]
        )
    return rows


RATE_HEAD = ["责任主体", "受理", "响应率", "办结率", "解决率", "满意率", "超期", "重办"]
RATE_WIDTHS = (40, 11, 23, 23, 23, 23, 11, 11)


def _compound(pdf: ReportPdf, report: dict[str, Any], c: dict[str, Any]) -> None:
    pdf.add_page()
    pdf.set_font(FAMILY, size=17)
    pdf.multi_cell(0, 9, f"{c['compound']} {report['month_zh']}月度通报", align="C",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    where = f"{c['community']} · " if c.get("community") else ""
    state = "" if report["complete"] else "（本月尚未结束，数据截至生成时）"
    _para(pdf, f"{where}生成于 {report['generated_at']}（{report['timezone']}）{state}", grey=True)

    _heading(pdf, "一、接诉即办“三率”（按责任主体）")
    _table(pdf, RATE_HEAD, _party_rows(c["parties"], c["totals"], adjusted=False), RATE_WIDTHS)
    _para(pdf, "按本月受理的诉求计算；各方只计本方办理段。响应率=按时响应/应响应；办结率=办结/应办结；"
               "解决率=回访认为已解决/回访作答；满意率=满意及基本满意/评价。超期为当前仍逾期未办的诉求。",
          size=7.5, grey=True)
    if any(p["adjusted"] != {k: p[k] for k in p["adjusted"]} for p in c["parties"]):
        _para(pdf, "扣除不纳入考评的诉求后：", size=9)
        _table(pdf, RATE_HEAD, _party_rows(c["parties"], c["totals"], adjusted=True), RATE_WIDTHS)

    _heading(pdf, "二、服务清单履约情况（累计，截至生成时）")
    if not c["fulfilment"]:
        _para(pdf, "本小区暂无服务清单。")
    for lst in c["fulfilment"]:
        totals = lst["totals"]
        rate = "—" if totals["fulfilment_rate"] is None else f"{totals['fulfilment_rate'] * 100:.1f}%"
        _para(pdf, f"{lst['title']} · {lst['provider']} · {lst['status_zh']} · 履约率 {rate}"
                   f"（{totals['fulfilled']}/{totals['assessed']}）")
        rows = [
            [
                str(i["number"]),
                i.get("title") or "—",
                i.get("time_limit") or "—",
                f"{i['inspections_met']} / {i['inspections_not_met']}",
                f"{i['needs_assigned']} / {i['needs_resolved']} / {i['needs_resolved_within_limit']}",
                str(i["needs_overdue"]),
                "—" if i["fulfilment_rate"] is None else f"{i['fulfilment_rate'] * 100:.1f}%",
            ]
            for i in lst["items"]
        ]
        _table(pdf, ["序号", "服务项目", "时限", "检查 达标/未达标", "派单/办结/按时", "超时", "履约率"],
               rows, (10, 52, 16, 28, 34, 14, 21))

    _heading(pdf, "三、协商议事")
    consult = c["consultations"]
    outcomes = "，".join(f"{o['outcome_zh']} {o['count']} 项" for o in consult["outcomes"]) or "无"
    _para(pdf, f"本月提议 {consult['proposed']} 项，议结 {consult['concluded']} 项（{outcomes}）。")
    if consult["items"]:
        rows = [
            [
                k["topic"],
                k.get("method_zh") or "—",
                k["status_zh"],
                k.get("outcome_zh") or "—",
                k.get("resolution") or "—",
                f"{k['actions_done']}/{k['actions_total']}",
            ]
            for k in consult["items"]
        ]
        _table(pdf, ["议题", "方式", "状态", "结果", "决议", "事项完成"], rows, (40, 20, 24, 22, 53, 16))

    _heading(pdf, "四、入户摸排覆盖")
    visits = c["visits"]
    _para(pdf, f"全小区 {visits['households']} 户，本月走访 {visits['visited']} 户，"
               f"覆盖率 {rate_cell(visits['coverage'])}。")
    if visits["buildings"]:
        rows = [[b["building"], str(b["households"]), str(b["visited"]), rate_cell(b["coverage"])]
                for b in visits["buildings"]]
        _table(pdf, ["楼栋", "户数", "已走访", "覆盖率"], rows, (60, 30, 30, 55))

    _heading(pdf, "五、双向评价")
    _para(pdf, "居民对各责任主体的评价（本月受理的诉求）：")
    rows = [
        [e["party"], str(e["satisfied"]), str(e["basically_satisfied"]), str(e["unsatisfied"]),
         str(e["evaluated"]), rate_cell(e["satisfaction_rate"])]
        for e in c["evaluations"]["by_residents"]
    ]
    _table(pdf, ["责任主体", "满意", "基本满意", "不满意", "评价数", "满意率"], rows, (55, 20, 22, 20, 20, 38))
    _para(pdf, "服务方对小区方的评价：")
    by_providers = c["evaluations"]["by_providers"]
    if not by_providers:
        _para(pdf, "本月无。")
    else:
        rows = [
            [f"{e['party']}（{e['aspect_zh']}）", str(e["satisfied"]), str(e["basically_satisfied"]),
             str(e["unsatisfied"]), str(e["evaluated"]), rate_cell(e["satisfaction_rate"])]
            for e in by_providers
        ]
        _table(pdf, ["评价方", "满意", "基本满意", "不满意", "评价数", "满意率"], rows, (55, 20, 22, 20, 20, 38))

    _heading(pdf, "六、月度考评")
    assessment = c["assessment"]
    if assessment is None:
        _para(pdf, "本月尚未关账考评。")
    else:
        _para(pdf, f"已于 {assessment['closed_at']} 关账（按日志位置 {assessment['position']} 计算，"
                   "扣除不纳入考评的诉求）。")
        rows = [
            [a["party"], rate_cell(a.get("response_rate")), rate_cell(a.get("resolution_rate")),
             rate_cell(a.get("confirmed_resolution_rate")), rate_cell(a.get("satisfaction_rate")),
             str(a.get("overdue_open", "—")), str(a.get("redos", "—"))]
            for a in assessment["parties"]
        ]
        _table(pdf, ["责任主体", "响应率", "办结率", "解决率", "满意率", "超期", "重办"], rows,
               (45, 26, 26, 26, 26, 16, 15))


def report_pdf(report: dict[str, Any], font: CjkFont | None = None) -> bytes:
    """The report as an A4 PDF with the CJK font embedded (a subset)."""
    font = font or find_cjk_font()
    names = "、".join(c["compound"] for c in report["compounds"]) or "（无小区）"
    pdf = ReportPdf(f"{names} {report['month_zh']}月度通报")
    pdf.add_font(FAMILY, "", str(font.path), collection_font_number=font.index)
    pdf.set_font(FAMILY, size=10)
    if not report["compounds"]:
        pdf.add_page()
        _para(pdf, f"{report['month_zh']}：没有可通报的小区。")
    for compound in report["compounds"]:
        _compound(pdf, report, compound)
    return bytes(pdf.output())
