"""Charts as SVG, drawn on the server: no JavaScript, no chart library.

Each function returns the ``<svg>`` element as text (every label escaped), for
a template to insert with ``|safe``. Values are rates between 0 and 1, or
``None`` where a rate has no denominator (drawn as no bar, a dash, or a gap
in a line).

Every chart is laid out so that nothing is drawn over anything else: the
legend wraps onto as many rows as it needs above the plot, labels are
measured (a CJK character as one em, other characters as about 0.6 em) and
thinned or placed where they fit, and each bar's value sits beside it, not
on its neighbour. Each chart is drawn twice, for a wide screen (``WIDE``
units across) and for a phone (``NARROW``), and the stylesheet shows the one
that fits, so that its words stay legible at either size; each SVG has a
``viewBox`` and ``width="100%"``, and scales with its box.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Colours that stay apart for the colour-blind (Okabe-Ito) and print in grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
MARKERS = ("circle", "square", "diamond")  # a line's points: told apart without colour
FONT = "font-family=\"'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei',sans-serif\""
WIDE = 640  # the drawing's width in its own units, shown at about 1:1 on a laptop
NARROW = 340  # and on a phone
TEXT = 13  # the size of labels, in those units
SMALL = 11
GRID = "#e3e7ec"
INK = "#1f2933"
MUTED = "#5f6b7a"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def text_width(text: str, size: float = TEXT) -> float:
    """About how wide ``text`` is drawn at ``size``: wide (CJK) characters one em."""
    ems = sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)
    return ems * size


def clip(text: str, width: float, size: float = TEXT) -> str:
    """``text``, cut with an ellipsis to fit ``width``."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _open(title: str, width: int, height: float) -> list[str]:
    size = "wide" if width == WIDE else "narrow"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {size}" role="img" '
        f'aria-label="{escape(title)}" width="100%" viewBox="0 0 {width} {height:.0f}" '
        f'preserveAspectRatio="xMinYMin meet" {FONT}>',
        f"<title>{escape(title)}</title>",
    ]


def for_screens(draw: Callable[[int], str]) -> str:
    """The chart drawn for a wide screen and for a phone (the stylesheet shows one)."""
    return draw(WIDE) + draw(NARROW)


def legend_rows(names: Sequence[str], width: float) -> list[list[tuple[float, int]]]:
    """Where each legend entry goes: rows of (x, index), wrapped to ``width``."""
    rows: list[list[tuple[float, int]]] = [[]]
    x = 0.0
    for i, name in enumerate(names):
        entry = 16 + text_width(name) + 18
        if rows[-1] and x + entry - 18 > width:
            rows.append([])
            x = 0.0
        rows[-1].append((x, i))
        x += entry
    return rows if rows[0] else []


def _legend(
    names: Sequence[str], top: float, width: int, kinds: Sequence[str] | None = None
) -> tuple[list[str], float]:
    """The legend's elements from ``top`` down, wrapped to ``width``, and where it ends."""
    parts = []
    rows = legend_rows(names, width)
    for r, row in enumerate(rows):
        y = top + r * 20
        for x, i in row:
            colour = PALETTE[i % len(PALETTE)]
            if kinds and kinds[i] == "line":
                parts.append(
                    f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 12:.1f}" y2="{y - 4:.1f}" '
                    f'stroke="{colour}" stroke-width="2.5"/>'
                    + _marker(i, x + 6, y - 4, colour)
                )
            else:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>'
                )
            parts.append(
                f'<text x="{x + 16:.1f}" y="{y:.1f}" font-size="{TEXT}" fill="{INK}">'
                f"{escape(names[i])}</text>"
            )
    return parts, top + len(rows) * 20


def _marker(i: int, x: float, y: float, colour: str, hollow: bool = False) -> str:
    fill = "#fff" if hollow else colour
    shape = MARKERS[i % len(MARKERS)]
    if shape == "square":
        return (
            f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{fill}" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
    if shape == "diamond":
        return (
            f'<path d="M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y:.1f}L{x:.1f} {y + 5:.1f}'
            f'L{x - 5:.1f} {y:.1f}Z" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.8" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>'


def _every(count: int, slot: float, widest: float) -> int:
    """Label every n-th of ``count`` slots ``slot`` wide so that labels ``widest``
    wide (plus a gap) never meet."""
    if count <= 1 or slot <= 0:
        return 1
    return max(1, math.ceil((widest + 8) / slot))


MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_label(month: str, lang: str) -> str:
    """``2026-05`` as a tick label: the month alone (its year goes beneath)."""
    number = int(month[5:])
    return f"{number}月" if lang == "zh" else MONTHS_EN[number - 1]


def year_label(month: str, lang: str) -> str:
    return f"{month[:4]}年" if lang == "zh" else month[:4]


def trend_chart(
    title: str,
    months: Sequence[str],
    series: Sequence[Series],
    counts: Series | None = None,
    *,
    lang: str = "zh",
) -> str:
    """Rates as lines over every month given (one point per month that has a
    denominator, a gap where none), and beneath, sharing the months, how many
    needs each month had as columns (an empty month a zero)."""
    return for_screens(lambda width: _trend(width, title, months, series, counts, lang))


def _trend(
    width: int,
    title: str,
    months: Sequence[str],
    series: Sequence[Series],
    counts: Series | None,
    lang: str,
) -> str:
    left, right = 40, 12
    legend, top = _legend(
        [s.name for s in series] + ([counts.name] if counts else []),
        16,
        width,
        ["line"] * len(series) + (["bar"] if counts else []),
    )
    plot_top = top + 8
    plot_height = 150
    plot_bottom = plot_top + plot_height
    count_top = plot_bottom + 14
    count_height = 54 if counts else 0
    axis_y = (count_top + count_height) if counts else plot_bottom
    label_y = axis_y + 16
    year_y = label_y + 16
    height = year_y + 8
    plot_width = width - left - right
    n = max(len(months), 1)
    slot = plot_width / n

    def x_of(i: int) -> float:
        return left + slot * (i + 0.5)

    parts = _open(title, width, height) + legend
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = plot_top + plot_height * (1 - tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 5}" y="{y + 4:.1f}" font-size="{SMALL}" text-anchor="end" '
            f'fill="{MUTED}">{tick * 100:.0f}%</text>'
        )
    if not months:
        parts.append(
            f'<text x="{left + 8}" y="{plot_top + plot_height / 2:.1f}" font-size="{TEXT}" '
            f'fill="{MUTED}">—</text>'
        )
    # The counts: columns in their own band, each with its number above it.
    if counts:
        most = max([v or 0 for v in counts.values] + [1])
        colour = PALETTE[len(series) % len(PALETTE)]
        parts.append(
            f'<line x1="{left}" y1="{axis_y:.1f}" x2="{width - right}" y2="{axis_y:.1f}" '
            f'stroke="{MUTED}"/>'
        )
        column = min(slot * 0.6, 28)
        show = _every(n, slot, text_width(f"{most:g}", SMALL))
        for i, month in enumerate(months):
            value = (counts.values[i] if i < len(counts.values) else 0) or 0
            h = (count_height - 14) * value / most
            x = x_of(i)
            parts.append(
                f'<rect x="{x - column / 2:.1f}" y="{axis_y - h:.1f}" width="{column:.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{colour}" opacity="0.55">'
                f"<title>{escape(month)} · {escape(counts.name)}: {value:g}</title></rect>"
            )
            if i % show == 0:
                parts.append(
                    f'<text x="{x:.1f}" y="{axis_y - h - 3:.1f}" font-size="{SMALL}" '
                    f'text-anchor="middle" fill="{INK}">{value:g}</text>'
                )
    # The rates: a line per series, broken where a month has no denominator;
    # the series sit a little apart, so that equal rates do not hide each other.
    for s_index, s in enumerate(series):
        colour = PALETTE[s_index % len(PALETTE)]
        dodge = (s_index - (len(series) - 1) / 2) * min(4.0, slot / 8)
        runs: list[list[tuple[float, float]]] = [[]]
        points = []
        for i, month in enumerate(months):
            value = s.values[i] if i < len(s.values) else None
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            x = x_of(i) + dodge
            y = plot_top + plot_height * (1 - min(max(value, 0.0), 1.0))
            runs[-1].append((x, y))
            points.append(
                f'<g>{_marker(s_index, x, y, colour)}'
                f"<title>{escape(month)} · {escape(s.name)}: {percent(value)}</title></g>"
            )
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.2" '
                    f'stroke-linejoin="round"/>'
                )
        parts.extend(points)
    # The months: every one drawn, its label thinned so that none meets the
    # next; beneath, the year where the range starts and at each January.
    labels = [month_label(m, lang) for m in months]
    show = _every(n, slot, max((text_width(t, SMALL) for t in labels), default=0))
    for i, text in enumerate(labels):
        x = x_of(i)
        parts.append(
            f'<line x1="{x:.1f}" y1="{axis_y:.1f}" x2="{x:.1f}" y2="{axis_y + 4:.1f}" '
            f'stroke="{MUTED}"/>'
        )
        if i % show == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{label_y:.1f}" font-size="{SMALL}" text-anchor="middle" '
                f'fill="{INK}">{escape(text)}</text>'
            )
    years = [i for i, m in enumerate(months) if i == 0 or m.endswith("-01")]
    year_width = text_width(year_label("2026", lang), SMALL) + 8
    for k, i in enumerate(years):
        if k + 1 < len(years) and (years[k + 1] - i) * slot < year_width:
            continue  # the next January is too close: its year says it
        x = left + slot * i + 1
        parts.append(
            f'<line x1="{x - 1:.1f}" y1="{axis_y:.1f}" x2="{x - 1:.1f}" y2="{year_y:.1f}" '
            f'stroke="{GRID}"/>'
            f'<text x="{x + 2:.1f}" y="{year_y:.1f}" font-size="{SMALL}" fill="{MUTED}">'
            f"{escape(year_label(months[i], lang))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
) -> str:
    """Horizontal bars grouped by label (one group per party, item or building):
    the label on its own line above its group, each bar's value beside it."""
    return for_screens(lambda width: _bars(width, title, labels, series))


def _bars(width: int, title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    bar, gap = 13, 3
    value_room = text_width("100%", SMALL) + 8
    left, right = 4, 4 + value_room
    legend, top = _legend([s.name for s in series], 16, width) if len(series) > 1 else ([], 4)
    plot_width = width - left - right
    group = 18 + len(series) * (bar + gap) + 8
    plot_top = top + 6
    plot_bottom = plot_top + max(len(labels), 1) * group
    height = plot_bottom + 18
    parts = _open(title, width, height) + legend
    for tick in (0, 0.5, 1.0):
        x = left + plot_width * tick
        anchor = "start" if tick == 0 else ("end" if tick == 1 else "middle")
        parts.append(
            f'<line x1="{x:.1f}" y1="{plot_top:.1f}" x2="{x:.1f}" y2="{plot_bottom:.1f}" '
            f'stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{plot_bottom + 13:.1f}" font-size="{SMALL}" '
            f'text-anchor="{anchor}" fill="{MUTED}">{tick * 100:.0f}%</text>'
        )
    if not labels:
        parts.append(
            f'<text x="{left + 8}" y="{plot_top + 16:.1f}" font-size="{TEXT}" fill="{MUTED}">—</text>'
        )
    for g, label in enumerate(labels):
        y0 = plot_top + g * group
        parts.append(
            f'<text x="{left:.1f}" y="{y0 + 13:.1f}" font-size="{TEXT}" fill="{INK}">'
            f"{escape(clip(label, plot_width))}</text>"
        )
        for i, s in enumerate(series):
            value = s.values[g] if g < len(s.values) else None
            y = y0 + 18 + i * (bar + gap)
            w = plot_width * min(max(value or 0.0, 0.0), 1.0)
            if value is not None:
                parts.append(
                    f'<rect x="{left}" y="{y:.1f}" width="{max(w, 1.5):.1f}" height="{bar}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}">'
                    f"<title>{escape(label)} · {escape(s.name)}: {percent(value)}</title></rect>"
                )
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{y + bar - 2:.1f}" font-size="{SMALL}" '
                f'fill="{INK}">{percent(value)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
