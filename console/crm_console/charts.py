"""Bar charts as inline SVG, rendered on the server: no script, no CDN, readable offline."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

_BAR_HEIGHT = 22
_LABEL_WIDTH = 180
_PLOT_WIDTH = 360
_LABEL_CHARS = 24


def bars(
    items: Sequence[tuple[str, float]], *, unit: str = "", limit: float | None = None
) -> Markup:
    """Return horizontal bars for (label, value) pairs; a dashed line marks `limit`."""
    if not items:
        return Markup("")
    top = max([abs(v) for _, v in items] + [limit or 0.0]) or 1.0
    height = _BAR_HEIGHT * len(items) + 8
    width = _LABEL_WIDTH + _PLOT_WIDTH + 90
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for row, (full_label, value) in enumerate(items):
        # Long names (resource ids) keep their distinctive end; the tooltip has them whole.
        label = full_label if len(full_label) <= _LABEL_CHARS else "…" + full_label[
            -(_LABEL_CHARS - 1):]
        y = row * _BAR_HEIGHT + 4
        length = abs(value) / top * _PLOT_WIDTH
        over = limit is not None and value > limit
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{_BAR_HEIGHT - 6}"'
            f' class="{"bar over" if over else "bar"}"><title>{escape(full_label)}: {value:,.2f}'
            f"{escape(unit)}</title></rect>"
            f'<text x="{_LABEL_WIDTH + length + 4:.1f}" y="{y + 15}">{value:,.1f}{escape(unit)}'
            "</text>"
        )
    if limit is not None:
        x = _LABEL_WIDTH + limit / top * _PLOT_WIDTH
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" class="limit">'
            f"<title>limit {limit:,.1f}{escape(unit)}</title></line>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label and unit above is escaped.
