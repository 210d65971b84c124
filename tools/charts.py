"""The demo's charts: a pipeline run's stats.json, training curves, confusions.

Each takes the plain data the pipeline and the trainer write (stats.json,
history.json, eval_report.json) and writes one PNG; a missing part leaves its
panel saying "no data" rather than failing, because a chart of a partial run
is still worth a look.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from drawing import features
from tools.render import (
    NEUTRAL,
    RIGHT,
    WRONG,
    draw_strokes,
    figure,
    no_data,
    save,
    short,
)

_MAX_BARS = 40  # more classes than this: show the largest and smallest halves
_BLUE, _ORANGE, _RED = "#0969da", "#fb8500", "#cf222e"


def _histogram(ax, edges: np.ndarray, counts: np.ndarray) -> None:
    """Counts over bins that may be even, geometric (log axis) or irregular.

    Irregular bins are drawn as equal-width bars labelled with their ranges:
    on a true axis a wide bin would look like many drawings.
    """
    used = np.flatnonzero(counts)
    if used.size:  # empty tail bins only squeeze the ones that matter
        counts, edges = counts[: used[-1] + 1], edges[: used[-1] + 2]
    widths = np.diff(edges)
    geometric = edges[0] > 0 and np.allclose(
        edges[1:] / edges[:-1], edges[1] / edges[0]
    )
    if np.allclose(widths, widths[0]) or geometric:
        ax.stairs(counts, edges, fill=True, color=_BLUE, alpha=0.85)
        if geometric:
            ax.set_xscale("log")
        ax.set_xlabel("points")
    else:
        names = [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        ax.bar(np.arange(counts.size), counts, color=_BLUE, width=0.9)
        ax.set_xticks(np.arange(counts.size), names, fontsize=6, rotation=90)
        ax.set_xlabel("points (bin)")
    ax.set_ylabel("drawings")


def _ordered_classes(per_class: Mapping, splits: list[str]) -> tuple[list[str], str]:
    """Classes by size, largest first; with many, only both ends and a note."""
    totals = {c: sum(int(v.get(s, 0)) for s in splits) for c, v in per_class.items()}
    ordered = sorted(totals, key=lambda c: (-totals[c], c))
    if len(ordered) <= _MAX_BARS:
        return ordered, ""
    half = _MAX_BARS // 2
    note = f"largest and smallest {half} of {len(ordered)} classes"
    return ordered[:half] + [""] + ordered[-half:], note


def _class_bars(ax, per_class: Mapping, splits: list[str], ordered, note) -> None:
    """Stacked horizontal bars of drawings per class and split."""
    ax.set_title("drawings per class" + (f"\n({note})" if note else ""), fontsize=10)
    if not ordered:
        no_data(ax, "per-class counts")
        return
    y = np.arange(len(ordered))
    left = np.zeros(len(ordered))
    colors = {features.TRAIN: _BLUE, features.EVAL: _ORANGE}
    for split in splits:
        counts = np.array([int(per_class.get(c, {}).get(split, 0)) for c in ordered])
        ax.barh(y, counts, left=left, color=colors.get(split), label=split, height=0.8)
        left += counts
    ax.set_yticks(y, [short(c, 24, 1) for c in ordered], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("drawings")
    ax.set_xlim(0, max(left.max(), 1) * 1.25)  # room for the legend, off the bars
    ax.legend(fontsize=8, loc="lower right")
    if note:
        ax.axhline(_MAX_BARS // 2, color=NEUTRAL, linestyle=":", linewidth=1)


def _lengths(ax, hist: Mapping) -> None:
    edges = np.asarray(hist.get("bin_edges") or [], dtype=float)
    counts = np.asarray(hist.get("counts") or [], dtype=float)
    ax.set_title("points per drawing", fontsize=10)
    if counts.size and edges.size == counts.size + 1:
        _histogram(ax, edges, counts)
    elif counts.size:
        ax.bar(np.arange(counts.size), counts, color=_BLUE)
        ax.set_xlabel("bin")
    else:
        no_data(ax, "length histogram")


def _not_written(ax, stats: Mapping) -> None:
    """Rejected, filtered and capped lines by reason: what the run left out."""
    lost = {str(k): int(v) for k, v in (stats.get("rejected") or {}).items()}
    if stats.get("filtered"):
        lost["filtered (not recognised)"] = int(stats["filtered"])
    for split, count in (stats.get("dropped_by_cap") or {}).items():
        if count:
            lost[f"dropped by cap ({split})"] = int(count)
    ax.set_title("lines not written", fontsize=10)
    if not lost:
        no_data(ax, "rejected lines")
        return
    names = sorted(lost, key=lambda k: -lost[k])
    ax.barh(np.arange(len(names)), [lost[n] for n in names], color=_RED)
    ax.set_yticks(np.arange(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("lines")


def plot_stats(stats: Mapping, path: str | Path) -> Path:
    """Charts a pipeline run's stats.json: classes per split, lengths, rejections.

    With many classes (the real dataset has 345) only the largest and smallest
    are drawn, with a note, because the ends are where imbalance shows and 345
    bars are unreadable. Missing keys leave their panel saying "no data".
    """
    per_class = stats.get("per_class") or {}
    splits = [s for s in features.SPLITS if any(s in v for v in per_class.values())]
    ordered, note = _ordered_classes(per_class, splits)
    height = max(5.5, 0.5 + 0.19 * max(len(ordered), 4))
    # Constrained layout keeps the histogram's rotated bin labels clear of the
    # panel below it.
    fig = figure(figsize=(11, height), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.25])
    _class_bars(fig.add_subplot(grid[:, 0]), per_class, splits, ordered, note)
    _lengths(fig.add_subplot(grid[0, 1]), stats.get("point_length_histogram") or {})
    _not_written(fig.add_subplot(grid[1, 1]), stats)
    written = stats.get("written") or {}
    summary = [f"lines read: {stats['lines_read']:,}"] if "lines_read" in stats else []
    summary += [f"{split}: {int(n):,}" for split, n in written.items()]
    if summary:
        fig.suptitle("   ".join(summary), fontsize=11)
    return save(fig, path)


def plot_history(history: Mapping[str, Sequence[float]], path: str | Path) -> Path:
    """Training curves from a Keras History dict: one panel per metric, train and val.

    Metrics come in pairs (`loss` / `val_loss`); the learning rate, when logged,
    gets its own panel on a log scale.
    """
    names: list[str] = []
    for key in history:
        base = key.removeprefix("val_")
        if base not in names:
            names.append(base)
    names = names or ["loss"]
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = figure(figsize=(4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in itertools.zip_longest(axes.flat, names):
        if name is None:
            ax.axis("off")
            continue
        plotted = False
        for key, label, style in ((name, "train", "-o"), (f"val_{name}", "val", "--s")):
            values = np.asarray(
                [np.nan if v is None else float(v) for v in history.get(key) or []]
            )
            if values.size:
                epochs = np.arange(1, values.size + 1)
                ax.plot(epochs, values, style, label=label, markersize=3)
                plotted = True
        ax.set_title(name.replace("_", " "), fontsize=10)
        if not plotted:
            no_data(ax, "values")
            continue
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if name in ("lr", "learning_rate"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def _as_drawing(obj: object) -> list[np.ndarray] | None:
    """Accepts one drawing (a list of [n, 2] strokes) or a list of drawings."""
    if obj is None:
        return None
    items = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    if not items:
        return None
    try:
        strokes = [np.asarray(s, dtype=float) for s in items]
        if all(s.ndim == 2 and s.shape[1] == 2 for s in strokes):
            return strokes
    except (ValueError, TypeError):
        pass
    return _as_drawing(items[0])  # a list of drawings: show the first


def _pair(cell, pair: Mapping, examples: Mapping[str, object]) -> None:
    """One confused pair: its heading and a drawing of each side."""
    true, predicted = str(pair["true"]), str(pair["predicted"])
    count = pair.get("count")
    cell.set_facecolor("#f6f8fa")  # groups the two sides of one pair
    count_text = f"   ×{int(count)}" if count else ""
    cell.suptitle(short(f"{true} → {predicted}", 44, 1) + count_text, fontsize=10)
    for ax, role, name, color in zip(
        cell.subplots(1, 2),
        ("true", "predicted"),
        (true, predicted),
        (RIGHT, WRONG),
        strict=True,
    ):
        drawing = _as_drawing(examples.get(name))
        if drawing:
            draw_strokes(ax, drawing)
        else:
            no_data(ax, "example")
        ax.set_facecolor("white")
        ax.set_title(short(f"{role}: {name}", 24, 1), fontsize=8, color=color)


def plot_confusion(
    report: Mapping, examples: Mapping[str, object], path: str | Path, top: int = 8
) -> Path:
    """The most confused class pairs, each with a drawing of both sides.

    Args:
      report: Has `confused_pairs`: [{"true", "predicted", "count"}, ...].
      examples: Class name -> a drawing (list of [n, 2] strokes, y down) or a
        list of drawings (the first is shown).
      path: The PNG to write.
      top: How many pairs to show, most frequent first.
    """
    pairs = [
        p
        for p in report.get("confused_pairs") or []
        if isinstance(p, Mapping) and "true" in p and "predicted" in p
    ]
    pairs = sorted(pairs, key=lambda p: -int(p.get("count", 0)))[:top]
    per_row = 2 if len(pairs) > 3 else 1
    rows = max(1, math.ceil(len(pairs) / per_row))
    fig = figure(figsize=(4.8 * per_row, 2.6 * rows + 0.45), layout="constrained")
    fig.suptitle("most confused pairs (true → predicted, eval count)", fontsize=11)
    cells = fig.subfigures(rows, per_row, squeeze=False, wspace=0.04, hspace=0.04)
    if not pairs:
        no_data(cells[0, 0].add_subplot(), "confused pairs")
    for cell, pair in zip(cells.flat, pairs, strict=False):
        _pair(cell, pair, examples)
    return save(fig, path)
