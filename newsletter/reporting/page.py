"""The report's page: static SVG charts drawn by matplotlib, inlined in one HTML file.

matplotlib's SVG backend writes plain SVG (text as text, escaped by it; no
script); ``page`` renders ``report.html.j2`` from the templates folder with the
charts and the tables beside them, every value from the report escaped by Jinja.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from newsletter.reporting.figures import COMPLAINT_LINE, STATUSES, Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLOURS = {
    "active": "#2e7d32", "pending": "#f9a825", "paused": "#90a4ae",
    "unsubscribed": "#6d4c41", "bounced": "#c62828",
}  # fmt: skip


def page(report: Report, templates: Path) -> str:
    """The whole report page, self-contained."""
    from feeds.rendering.templating import environment

    charts = {
        "subscribers": _chart(lambda ax: _subscribers(ax, report), "Readers by status, per week"),
        "signups": _chart(lambda ax: _signups(ax, report), "Sign-ups and confirmations per week"),
        "sends": _chart(lambda ax: _sends(ax, report), "Copies per issue"),
        "rates": _chart(lambda ax: _rates(ax, report), "Bounces and complaints per issue"),
        "feeds": _chart(lambda ax: _feeds(ax, report), "Items in each feed", tall=True),
    }
    clicks = {
        issue: _chart(partial(_clicks, rows), f"Clicks per story, {issue}", tall=True)
        for issue, rows in report.clicks.items()
    }
    template = environment(templates).get_template("report.html.j2")
    return template.render(report=report, charts=charts, clicks=clicks, line=COMPLAINT_LINE)


def _chart(draw: Callable[[Axes], None], title: str, tall: bool = False) -> Markup:
    """One chart as inline SVG (no XML declaration, no DOCTYPE)."""
    import matplotlib

    matplotlib.use("svg")
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "feedletter"}):
        figure = Figure(figsize=(7.6, 4.2 if tall else 3.0), layout="constrained")
        axes = figure.subplots()
        axes.set_title(title, loc="left", fontsize=11)
        draw(axes)
        out = io.StringIO()
        nothing = {"Date": None, "Creator": None, "Format": None, "Type": None}
        figure.savefig(out, format="svg", metadata=nothing)  # no RDF block
    svg = out.getvalue()
    return Markup(svg[svg.index("<svg") :])


def _labels(weeks: list[str]) -> list[str]:
    return [w[5:] for w in weeks]  # MM-DD


def _subscribers(ax: Axes, report: Report) -> None:
    x = range(len(report.weeks))
    bottom = [0] * len(report.weeks)
    for status in STATUSES:
        values = report.by_status[status]
        ax.bar(x, values, bottom=bottom, label=status, color=COLOURS[status], width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _weeks_axis(ax, report.weeks)
    ax.legend(fontsize=8, ncols=5, loc="upper left")


def _signups(ax: Axes, report: Report) -> None:
    x = list(range(len(report.weeks)))
    ax.bar([i - 0.2 for i in x], report.signups, width=0.4, label="sign-ups", color="#1565c0")
    ax.bar([i + 0.2 for i in x], report.confirmations, width=0.4, label="confirmed",
           color="#2e7d32")  # fmt: skip
    _weeks_axis(ax, report.weeks)
    ax.legend(fontsize=8)


def _sends(ax: Axes, report: Report) -> None:
    names = [i.issue_id for i in report.issues] or ["(none)"]
    delivered = [i.delivered for i in report.issues] or [0]
    deferred = [i.deferred for i in report.issues] or [0]
    failed = [i.failed for i in report.issues] or [0]
    ax.bar(names, delivered, label="delivered", color="#2e7d32")
    ax.bar(names, deferred, bottom=delivered, label="deferred", color="#f9a825")
    tops = [d + e for d, e in zip(delivered, deferred, strict=True)]
    ax.bar(names, failed, bottom=tops, label="failed", color="#c62828")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=8)


def _rates(ax: Axes, report: Report) -> None:
    names = [i.issue_id for i in report.issues] or ["(none)"]
    ax.plot(names, [i.bounce_rate * 100 for i in report.issues] or [0], marker="o",
            label="bounces (hard and soft)", color="#6d4c41")  # fmt: skip
    ax.plot(names, [i.complaint_rate * 100 for i in report.issues] or [0], marker="o",
            label="complaints", color="#c62828")  # fmt: skip
    ax.axhline(COMPLAINT_LINE * 100, color="#c62828", linestyle="--", linewidth=1,
               label="0.3%: Gmail's limit for complaints")  # fmt: skip
    ax.set_ylabel("% of delivered", fontsize=8)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=8)


def _clicks(rows: list[tuple[str, str, int]], ax: Axes) -> None:
    shown = rows[:12][::-1]
    ax.barh([_short(t) for t, _, _ in shown], [n for _, _, n in shown], color="#1565c0")
    ax.tick_params(axis="y", labelsize=8)


def _feeds(ax: Axes, report: Report) -> None:
    shown = report.feeds[::-1] or [("(no feeds built)", 0)]
    ax.barh([_short(t) for t, _ in shown], [n for _, n in shown], color="#00838f")
    ax.tick_params(axis="y", labelsize=8)


def _weeks_axis(ax: Axes, weeks: list[str]) -> None:
    step = max(1, len(weeks) // 12)
    ax.set_xticks(range(0, len(weeks), step), _labels(weeks)[::step], fontsize=8)
    ax.set_xlabel("week starting (month-day)", fontsize=8)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
