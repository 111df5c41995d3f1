"""Bar charts as SVG, drawn on the server: no JavaScript, no chart library.

Each function returns the ``<svg>`` element as text (every label escaped), for
a template to insert with ``|safe``. Values are rates between 0 and 1, or
``None`` where a rate has no denominator (drawn as no bar and a dash).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Colours that stay apart for the colour-blind (Okabe-Ito) and print in grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
FONT = "font-family=\"'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei',sans-serif\""


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for i, s in enumerate(series):
        left = x + i * 130
        parts.append(
            f'<rect x="{left:.1f}" y="{y - 9:.1f}" width="10" height="10" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{left + 14:.1f}" y="{y:.1f}" font-size="12">{escape(s.name)}</text>'
        )
    return parts


def column_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    height: int = 240,
    group_width: int = 0,
) -> str:
    """Vertical bars grouped by label (e.g. one group per month, one bar per rate)."""
    n = max(len(series), 1)
    bar = 24
    group_width = group_width or max(n * bar + 24, 64)
    left, right, top, bottom = 44, 12, 40, 46
    plot_height = height - top - bottom
    width = max(
        left + right + max(len(labels), 1) * group_width,
        left + len(series) * 130 + 20,  # room for the legend
        len(title) * 14 + left,  # and for the title
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        *_legend(series, left, 32),
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_height * (1 - tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#555">{tick * 100:.0f}%</text>'
        )
    if not labels:
        parts.append(
            f'<text x="{left + 8}" y="{top + plot_height / 2:.1f}" font-size="12" '
            'fill="#777">—</text>'
        )
    for g, label in enumerate(labels):
        x0 = left + g * group_width + (group_width - n * bar) / 2
        for i, s in enumerate(series):
            value = s.values[g] if g < len(s.values) else None
            x = x0 + i * bar
            if value is not None:
                h = max(plot_height * min(max(value, 0.0), 1.0), 1.0)
                parts.append(
                    f'<rect x="{x:.1f}" y="{top + plot_height - h:.1f}" width="{bar - 2}" '
                    f'height="{h:.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
                    f"<title>{escape(label)} · {escape(s.name)}: {_percent(value)}</title></rect>"
                )
            parts.append(
                f'<text x="{x + (bar - 2) / 2:.1f}" '
                f'y="{top + plot_height - (plot_height * (value or 0)) - 3:.1f}" font-size="9" '
                f'text-anchor="middle" fill="#333">{_percent(value)}</text>'
            )
        parts.append(
            f'<text x="{left + g * group_width + group_width / 2:.1f}" '
            f'y="{top + plot_height + 16:.1f}" font-size="11" text-anchor="middle">'
            f"{escape(_clip(label, 12))}</text>"
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - right}" '
        f'y2="{top + plot_height}" stroke="#333" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 560,
    label_width: int = 170,
) -> str:
    """Horizontal bars grouped by label (e.g. one group per party or building)."""
    n = max(len(series), 1)
    bar = 12
    group = n * bar + 10
    top, right = 44, 48
    height = top + max(len(labels), 1) * group + 10
    plot_width = width - label_width - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        f"<title>{escape(title)}</title>",
        '<text x="4" y="16" font-size="13" font-weight="bold">' + escape(title) + "</text>",
        *_legend(series, 4, 34),
    ]
    for tick in (0, 0.5, 1.0):
        x = label_width + plot_width * tick
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 8}" '
            f'stroke="#ddd" stroke-width="1"/>'
        )
    if not labels:
        parts.append(
            f'<text x="{label_width + 8}" y="{top + 12}" font-size="12" fill="#777">—</text>'
        )
    for g, label in enumerate(labels):
        y0 = top + g * group
        parts.append(
            f'<text x="{label_width - 8}" y="{y0 + group / 2 + 2:.1f}" font-size="11" '
            f'text-anchor="end">{escape(_clip(label, 16))}</text>'
        )
        for i, s in enumerate(series):
            value = s.values[g] if g < len(s.values) else None
            y = y0 + i * bar
            w = plot_width * min(max(value or 0.0, 0.0), 1.0)
            if value is not None:
                parts.append(
                    f'<rect x="{label_width}" y="{y:.1f}" width="{max(w, 1.0):.1f}" '
                    f'height="{bar - 2}" fill="{PALETTE[i % len(PALETTE)]}">'
                    f"<title>{escape(label)} · {escape(s.name)}: {_percent(value)}</title></rect>"
                )
            parts.append(
                f'<text x="{label_width + w + 4:.1f}" y="{y + bar - 3:.1f}" font-size="9" '
                f'fill="#333">{_percent(value)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
