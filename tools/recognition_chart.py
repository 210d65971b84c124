"""The demo's "recognized while drawing" chart, from eval_report.json.

The game's question is not whether a whole drawing is classified but how
early the asked class passes the recognition threshold while it is drawn
(`trainer.recognition`). `summary` gives the figures as the demo prints them;
`plot_recognition` draws one PNG: the share of eval drawings recognized by
each share of their points, and the classes recognized latest. A report
without it leaves the panels saying "no data".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tools.render import NEUTRAL, RIGHT, figure, no_data, save

_BLUE = "#0969da"


def _curve(ax, recognition: Mapping, drawing: Mapping) -> None:
    curve = drawing.get("curve") or {}
    ax.set_title("recognized while drawing", fontsize=10)
    if not curve:
        no_data(ax, "curve")
        return
    x = np.array([0.0, *map(float, curve)]) * 100
    y = np.array([0.0, *curve.values()]) * 100
    ax.plot(x, y, "-o", color=_BLUE, markersize=4)
    for xi, yi in zip(x[1:], y[1:], strict=True):
        ax.annotate(f"{yi:.0f}%", (xi, yi), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7)  # fmt: skip
    median = drawing.get("median_points_needed")
    if median is not None:
        ax.axvline(median * 100, color=RIGHT, linestyle="--", linewidth=1)
        ax.text(median * 100 + 1, 4, f"median {median:.0%} of the points",
                color=RIGHT, fontsize=8)  # fmt: skip
    ax.set_xlim(0, 102)
    ax.set_ylim(0, 105)
    ax.set_xlabel("share of the drawing's points drawn (%)")
    ax.set_ylabel("eval drawings recognized (%)")
    ax.grid(alpha=0.3)
    threshold = recognition.get("threshold")
    if threshold is not None:
        note = (
            f"threshold {threshold:.3f} (precision "
            f"{recognition.get('precision', float('nan')):.2f}), "
            f"{drawing.get('drawings', 0)} drawings"
        )
        ax.text(0.02, 0.97, note, transform=ax.transAxes, va="top", fontsize=8,
                color=NEUTRAL)  # fmt: skip


def _latest(ax, drawing: Mapping) -> None:
    latest = drawing.get("latest_classes") or []
    ax.set_title("recognized latest (median share of points)", fontsize=10)
    if not latest:
        no_data(ax, "classes")
        return
    names = [item["class"] for item in latest][::-1]
    medians = [item.get("median_points_needed") for item in latest][::-1]
    shares = [item.get("recognized", 0.0) for item in latest][::-1]
    values = [1.0 if m is None else m for m in medians]
    colors = [NEUTRAL if m is None else _BLUE for m in medians]
    ax.barh(np.arange(len(names)), np.array(values) * 100, color=colors)
    ax.set_yticks(np.arange(len(names)), names, fontsize=8)
    for i, m in enumerate(medians):
        label = f"{shares[i]:.0%} ever" if m is None else f"{m:.0%}"
        ax.text(values[i] * 100 + 1, i, label, va="center", fontsize=8)
    ax.set_xlim(0, 130)
    ax.set_xlabel("median share of points needed (%)")


def plot_recognition(report: Mapping, path: str | Path) -> Path:
    """The curve and the latest classes from an eval report's `recognition`."""
    recognition = report.get("recognition") or {}
    drawing = recognition.get("while_drawing") or {}
    fig = figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    _curve(left, recognition, drawing)
    _latest(right, drawing)
    fig.tight_layout()
    return save(fig, path)


def _latest_text(item: dict) -> str:
    median = item.get("median_points_needed")
    if median is None:
        return f"{item['class']} (only {item.get('recognized', 0):.0%} ever)"
    return f"{item['class']} (median {median:.0%})"


def summary(report: dict) -> str:
    """The recognition threshold and the "recognized while drawing" figures."""
    found = report.get("recognition")
    if not found:
        return "recognition threshold: none (no eval drawings)"
    drawing = found.get("while_drawing") or {}
    curve = drawing.get("curve") or {}
    median = drawing.get("median_points_needed")
    latest = ", ".join(map(_latest_text, drawing.get("latest_classes", [])))
    shares = " ".join(f"{float(x):.0%}:{v:.0%}" for x, v in curve.items())
    return "\n".join(
        [
            f"recognition threshold {found['threshold']:.3f}: precision "
            f"{found['precision']:.3f} (target {found['precision_target']}), "
            f"recognizes {found['recognized']:.1%} of the eval drawings",
            f"recognized while drawing ({drawing.get('drawings', 0)} drawings), "
            f"by share of points: {shares}",
            "median share of points needed: "
            + ("n/a" if median is None else f"{median:.0%}"),
            f"recognized latest (share of points): {latest}",
        ]
    )
