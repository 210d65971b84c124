"""Pictures of drawings, records, statistics and training runs, for people.

A classifier is only trustworthy when someone has looked at its inputs: this
module draws ndjson lines and TFRecord examples side by side (so a bug in the
preprocessing shows as a distorted sketch), optionally with a model's top
prediction on each, and makes the demo's charts from the pipeline's stats.json,
a Keras History and the evaluation's confusion report.

Everything uses matplotlib's Agg backend, so it works on machines without a
display. TensorFlow is imported only when TFRecord input is read, and the
trainer only when predictions are asked for, so drawing ndjson stays cheap.

Usage:
  python -m pipeline.render INPUT... --output grid.png [--limit N]
      [--color_by_stroke] [--classes_file F] [--model MODEL_DIR] [--cols C]
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import itertools
import math
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pipeline import features, ink  # noqa: E402

DEFAULT_LIMIT = 36
MAX_COLS = 8
_PANEL_IN = 1.7  # panel width and drawing height, inches
_TITLE_CHARS = 20  # a title line wider than this is wrapped
_RIGHT, _WRONG, _NEUTRAL = "#1a7f37", "#cf222e", "#57606a"
_DPI = 110


@dataclasses.dataclass
class Panel:
    """One drawing to show.

    Attributes:
      strokes: float [n, 2] arrays, x right, y down (as in the dataset).
      label: The true class, as shown in the title.
      line: The raw ndjson line, for predictions; None for TFRecord input.
      prediction: The model's answer for `line`, set by `add_predictions`.
    """

    strokes: list[np.ndarray]
    label: str
    line: bytes | None = None
    prediction: dict | None = None


# --------------------------------------------------------------------------
# Reading inputs.


def is_tfrecord(path: str | Path) -> bool:
    """TFRecord files are recognised by name: the pipeline writes `*.tfrecord*`."""
    name = Path(path).name
    return ".tfrecord" in name or name.endswith(".tfrecords")


def expand_inputs(patterns: Iterable[str]) -> list[Path]:
    """Expands globs and directories into files, keeping the order given.

    A directory stands for its ndjson and TFRecord files (not the classes file).

    Raises:
      FileNotFoundError: if a pattern matches nothing.
    """
    paths: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = [Path(p) for p in sorted(glob.glob(pattern))]
        elif Path(pattern).is_dir():
            matches = sorted(
                p
                for p in Path(pattern).iterdir()
                if p.is_file()
                and (p.suffix == ".ndjson" or is_tfrecord(p))
                and not p.name.endswith(".classes")
            )
        else:
            matches = [Path(pattern)] if Path(pattern).exists() else []
        if not matches:
            raise FileNotFoundError(f"no input matches {pattern!r}")
        paths.extend(m for m in matches if not m.name.endswith(".classes"))
    return paths


def record_strokes(drawing: object) -> list[np.ndarray]:
    """float [n, 2] strokes from a line's `drawing` field ([[xs], [ys], ...] each).

    Raises:
      ValueError: if a stroke's coordinates are not finite numbers.
    """
    strokes = []
    for stroke in drawing if isinstance(drawing, list) else []:
        try:
            xy = np.asarray(stroke[:2], dtype=float).T
        except (TypeError, ValueError, IndexError) as err:
            raise ValueError(f"bad stroke: {err}") from None
        if xy.ndim != 2 or xy.shape[1] != 2 or not np.isfinite(xy).all():
            raise ValueError("stroke coordinates are not finite numbers")
        if len(xy):
            strokes.append(xy)
    return strokes


def read_ndjson(path: Path, limit: int) -> Iterator[Panel]:
    """Up to `limit` drawings of one ndjson file; bad lines are skipped with a note."""
    shown = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if shown >= limit:
                return
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                drawing = ink.parse_drawing(line)
                strokes = record_strokes(ink.loads(line).get("drawing"))
            except ValueError as err:  # BadDrawing included
                print(f"{path}:{number}: skipped ({err})", file=sys.stderr)
                continue
            shown += 1
            yield Panel(strokes=strokes, label=drawing.word, line=line)


def read_classes(path: str | Path) -> list[str]:
    """The classes file: one class name per line, the line number is the index."""
    return Path(path).read_text(encoding="utf-8").splitlines()


def _find_classes_file(path: Path) -> Path | None:
    candidate = path.parent / features.CLASSES_FILE
    return candidate if candidate.is_file() else None


def read_tfrecord(
    path: Path, limit: int, classes: Sequence[str] | None = None
) -> Iterator[Panel]:
    """Up to `limit` examples of one TFRecord file, decoded back to strokes.

    The label is the example's `word` when it has one (the tutorial's records
    do not), else the class name from `classes`, else `class <index>`.
    """
    import tensorflow as tf  # heavy: only for TFRecord input

    compression = "GZIP" if path.name.endswith(".gz") else ""
    dataset = tf.data.TFRecordDataset(str(path), compression_type=compression)
    for raw in dataset.take(limit):
        example = tf.train.Example.FromString(raw.numpy())
        feats = example.features.feature
        values = np.asarray(feats[features.INK].float_list.value, dtype=np.float32)
        words = feats[features.WORD].bytes_list.value if features.WORD in feats else []
        index_list = feats[features.CLASS_INDEX].int64_list.value
        index = int(index_list[0]) if index_list else -1
        if words:
            label = words[0].decode("utf-8", "replace")
        elif classes is not None and 0 <= index < len(classes):
            label = classes[index]
        else:
            label = f"class {index}"
        yield Panel(strokes=ink.ink_to_strokes(values), label=label)


def load_panels(
    inputs: Sequence[Path], limit: int, classes_file: str | Path | None = None
) -> list[Panel]:
    """Reads up to `limit` drawings, taking them in turn from each input file.

    Taking them in turn means `render cats.ndjson dogs.ndjson --limit 8` shows
    both classes, not eight cats.
    """
    classes = read_classes(classes_file) if classes_file else None
    readers = []
    for path in inputs:
        if is_tfrecord(path):
            file_classes = classes
            if file_classes is None and (found := _find_classes_file(path)):
                file_classes = read_classes(found)
            readers.append(read_tfrecord(path, limit, file_classes))
        else:
            readers.append(read_ndjson(path, limit))
    panels: list[Panel] = []
    for row in itertools.zip_longest(*readers):
        panels.extend(p for p in row if p is not None)
        if len(panels) >= limit:
            break
    return panels[:limit]


def add_predictions(panels: Sequence[Panel], model_dir: str | Path, k: int = 3) -> None:
    """Sets each ndjson panel's `prediction` from the model saved in `model_dir`.

    Raises:
      ValueError: if a panel came from a TFRecord (no raw line to predict on).
    """
    if any(p.line is None for p in panels):
        raise ValueError("predictions are only supported for ndjson input")
    from trainer import predict  # heavy and optional: only when asked for

    results = predict.load(model_dir).predict([p.line for p in panels], k=k)
    for panel, result in zip(panels, results, strict=True):
        panel.prediction = result


# --------------------------------------------------------------------------
# Drawing.


def _short(text: str, width: int = _TITLE_CHARS, lines: int = 2) -> str:
    """Wraps a title to at most `lines` lines of `width` characters."""
    return "\n".join(textwrap.wrap(text, width, max_lines=lines, placeholder="…"))


def draw_strokes(
    ax: plt.Axes, strokes: Sequence[np.ndarray], color_by_stroke: bool = False
) -> None:
    """Draws strokes upright on `ax` (the dataset's y axis grows downward)."""
    n = max(len(strokes), 1)
    colors = plt.get_cmap("plasma")(np.linspace(0.0, 0.85, n))
    for i, stroke in enumerate(strokes):
        stroke = np.asarray(stroke, dtype=float).reshape(-1, 2)
        color = colors[i] if color_by_stroke else "black"
        if len(stroke) == 1:  # a dot
            ax.plot(stroke[:, 0], stroke[:, 1], "o", color=color, markersize=2)
        else:
            ax.plot(stroke[:, 0], stroke[:, 1], "-", color=color, linewidth=1.2)
    ax.set_aspect("equal", adjustable="datalim")
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#d0d7de")


def _prediction_text(panel: Panel) -> tuple[str, str]:
    result = panel.prediction or {}
    if "error" in result:
        return _short(f"error: {result['error']}", lines=1), _NEUTRAL
    top = (result.get("top_k") or [{}])[0]
    name = str(top.get("class", "?"))
    probability = top.get("probability")
    text = name if probability is None else f"{name} {float(probability):.0%}"
    return _short(text, lines=1), _RIGHT if name == panel.label else _WRONG


def render_grid(
    panels: Sequence[Panel],
    output: str | Path,
    cols: int | None = None,
    color_by_stroke: bool = False,
    title: str | None = None,
) -> Path:
    """Draws `panels` as a grid of small sketches with their labels into a PNG.

    With predictions on the panels, each title gets a second line with the top
    class and its probability, green when it is the label and red when not.
    """
    if not panels:
        raise ValueError("nothing to draw")
    cols = cols or min(MAX_COLS, math.ceil(math.sqrt(len(panels))))
    cols = max(1, min(cols, len(panels)))
    rows = math.ceil(len(panels) / cols)
    has_predictions = any(p.prediction is not None for p in panels)
    labels = [_short(p.label) for p in panels]  # long names take two lines
    label_lines = max(label.count("\n") + 1 for label in labels)
    title_in = 0.25 + 0.16 * label_lines + (0.16 if has_predictions else 0.0)
    fig_w = cols * _PANEL_IN
    fig_h = rows * (_PANEL_IN + title_in) + (0.4 if title else 0.0)
    fig, axes = plt.subplots(rows, cols, figsize=(fig_w, fig_h), squeeze=False)
    for ax, panel, label in itertools.zip_longest(axes.flat, panels, labels):
        if panel is None:
            ax.axis("off")
            continue
        draw_strokes(ax, panel.strokes, color_by_stroke)
        ax.set_title(label, fontsize=9, pad=14 if has_predictions else 3)
        if panel.prediction is not None:
            text, color = _prediction_text(panel)
            ax.text(
                0.5,
                1.02,
                text,
                transform=ax.transAxes,
                ha="center",
                va="bottom",
                fontsize=8,
                color=color,
            )
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, output)


def _save(fig: plt.Figure, output: str | Path) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=_DPI)
    plt.close(fig)
    return output


def _no_data(ax: plt.Axes, what: str) -> None:
    ax.text(
        0.5,
        0.5,
        f"no {what}",
        ha="center",
        va="center",
        color=_NEUTRAL,
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#d0d7de")


# --------------------------------------------------------------------------
# Charts for the demo.

_MAX_BARS = 40  # more classes than this: show the largest and smallest halves


def _histogram(ax: plt.Axes, edges: np.ndarray, counts: np.ndarray) -> None:
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
        ax.stairs(counts, edges, fill=True, color="#0969da", alpha=0.85)
        if geometric:
            ax.set_xscale("log")
        ax.set_xlabel("points")
    else:
        names = [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        ax.bar(np.arange(counts.size), counts, color="#0969da", width=0.9)
        ax.set_xticks(np.arange(counts.size), names, fontsize=6, rotation=90)
        ax.set_xlabel("points (bin)")
    ax.set_ylabel("drawings")


def plot_stats(stats: Mapping, path: str | Path) -> Path:
    """Charts a pipeline run's stats.json: classes per split, lengths, rejections.

    With many classes (the real dataset has 345) only the largest and smallest
    are drawn, with a note, because the ends are where imbalance shows and 345
    bars are unreadable. Missing keys leave their panel saying "no data".
    """
    per_class = stats.get("per_class") or {}
    splits = [s for s in features.SPLITS if any(s in v for v in per_class.values())]
    totals = {c: sum(int(v.get(s, 0)) for s in splits) for c, v in per_class.items()}
    ordered = sorted(totals, key=lambda c: (-totals[c], c))
    note = ""
    if len(ordered) > _MAX_BARS:
        half = _MAX_BARS // 2
        note = f"largest and smallest {half} of {len(ordered)} classes"
        ordered = ordered[:half] + [""] + ordered[-half:]
    bars = max(len(ordered), 4)

    fig = plt.figure(figsize=(11, max(5.0, 0.5 + 0.19 * bars)))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.25], hspace=0.45, wspace=0.45)
    ax_cls = fig.add_subplot(grid[:, 0])
    ax_len = fig.add_subplot(grid[0, 1])
    ax_rej = fig.add_subplot(grid[1, 1])

    if ordered:
        y = np.arange(len(ordered))
        left = np.zeros(len(ordered))
        split_colors = {features.TRAIN: "#0969da", features.EVAL: "#fb8500"}
        for split in splits:
            counts = np.array(
                [int(per_class.get(c, {}).get(split, 0)) for c in ordered]
            )
            ax_cls.barh(
                y,
                counts,
                left=left,
                color=split_colors.get(split),
                label=split,
                height=0.8,
            )
            left += counts
        ax_cls.set_yticks(y, [_short(c, 24, 1) for c in ordered], fontsize=7)
        ax_cls.invert_yaxis()
        ax_cls.set_xlabel("drawings")
        ax_cls.legend(fontsize=8, loc="lower right")
        ax_cls.set_title(
            "drawings per class" + (f"\n({note})" if note else ""), fontsize=10
        )
        if note:
            ax_cls.axhline(_MAX_BARS // 2, color=_NEUTRAL, linestyle=":", linewidth=1)
    else:
        ax_cls.set_title("drawings per class", fontsize=10)
        _no_data(ax_cls, "per-class counts")

    hist = stats.get("point_length_histogram") or {}
    edges = np.asarray(hist.get("bin_edges") or [], dtype=float)
    counts = np.asarray(hist.get("counts") or [], dtype=float)
    ax_len.set_title("points per drawing", fontsize=10)
    if counts.size and edges.size == counts.size + 1:
        _histogram(ax_len, edges, counts)
    elif counts.size:
        ax_len.bar(np.arange(counts.size), counts, color="#0969da")
        ax_len.set_xlabel("bin")
    else:
        _no_data(ax_len, "length histogram")

    rejected = {str(k): int(v) for k, v in (stats.get("rejected") or {}).items()}
    filtered = stats.get("filtered")
    if filtered:
        rejected["filtered (not recognised)"] = int(filtered)
    for split, count in (stats.get("dropped_by_cap") or {}).items():
        if count:
            rejected[f"dropped by cap ({split})"] = int(count)
    ax_rej.set_title("lines not written", fontsize=10)
    if rejected:
        names = sorted(rejected, key=lambda k: -rejected[k])
        ax_rej.barh(
            np.arange(len(names)), [rejected[n] for n in names], color="#cf222e"
        )
        ax_rej.set_yticks(np.arange(len(names)), names, fontsize=7)
        ax_rej.invert_yaxis()
        ax_rej.set_xlabel("lines")
    else:
        _no_data(ax_rej, "rejected lines")

    written = stats.get("written") or {}
    summary = [f"lines read: {stats['lines_read']:,}"] if "lines_read" in stats else []
    summary += [f"{split}: {int(n):,}" for split, n in written.items()]
    if summary:
        fig.suptitle("   ".join(summary), fontsize=11)
    return _save(fig, path)


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
    if not names:
        names = ["loss"]
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False
    )
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
            _no_data(ax, "values")
            continue
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if name in ("lr", "learning_rate"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


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
    fig = plt.figure(figsize=(4.8 * per_row, 2.6 * rows + 0.45), layout="constrained")
    fig.suptitle("most confused pairs (true → predicted, eval count)", fontsize=11)
    cells = fig.subfigures(rows, per_row, squeeze=False, wspace=0.04, hspace=0.04)
    if not pairs:
        _no_data(cells[0, 0].add_subplot(), "confused pairs")
    for i, cell in enumerate(cells.flat):
        if i >= len(pairs):
            continue
        pair = pairs[i]
        true, predicted = str(pair["true"]), str(pair["predicted"])
        count = pair.get("count")
        cell.set_facecolor("#f6f8fa")  # groups the two sides of one pair
        heading = f"{true} → {predicted}"
        count_text = f"   ×{int(count)}" if count else ""
        cell.suptitle(_short(heading, 44, 1) + count_text, fontsize=10)
        for ax, role, name, color in zip(
            cell.subplots(1, 2),
            ("true", "predicted"),
            (true, predicted),
            (_RIGHT, _WRONG),
            strict=True,
        ):
            drawing = _as_drawing(examples.get(name))
            if drawing:
                draw_strokes(ax, drawing)
            else:
                _no_data(ax, "example")
            ax.set_facecolor("white")
            ax.set_title(_short(f"{role}: {name}", 24, 1), fontsize=8, color=color)
    return _save(fig, path)


# --------------------------------------------------------------------------
# Command line.


@dataclasses.dataclass(frozen=True)
class Args:
    """Command-line settings."""

    inputs: tuple[str, ...]
    output: Path
    limit: int = DEFAULT_LIMIT
    color_by_stroke: bool = False
    classes_file: Path | None = None
    model: Path | None = None
    cols: int | None = None


def parse_args(argv: Sequence[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.render",
        description="Draw ndjson drawings or TFRecord examples as a PNG grid.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files, globs, dirs")
    parser.add_argument("--output", type=Path, required=True, help="PNG to write")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="drawings")
    parser.add_argument(
        "--color_by_stroke", action="store_true", help="colour strokes by their order"
    )
    parser.add_argument(
        "--classes_file", type=Path, help="class names for TFRecord class indices"
    )
    parser.add_argument("--model", type=Path, help="model dir: show its top prediction")
    parser.add_argument("--cols", type=int, help="panels per row")
    ns = parser.parse_args(argv)
    if ns.limit < 1:
        parser.error("--limit must be at least 1")
    if ns.cols is not None and ns.cols < 1:
        parser.error("--cols must be at least 1")
    return Args(
        inputs=tuple(ns.inputs),
        output=ns.output,
        limit=ns.limit,
        color_by_stroke=ns.color_by_stroke,
        classes_file=ns.classes_file,
        model=ns.model,
        cols=ns.cols,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    paths = expand_inputs(args.inputs)
    if args.model is not None and any(is_tfrecord(p) for p in paths):
        sys.exit(
            "--model needs ndjson input (TFRecords have no raw line to predict on)"
        )
    panels = load_panels(paths, args.limit, args.classes_file)
    if not panels:
        sys.exit("no drawings to show")
    if args.model is not None:
        add_predictions(panels, args.model)
    out = render_grid(panels, args.output, args.cols, args.color_by_stroke)
    print(f"wrote {len(panels)} drawings to {out}")


if __name__ == "__main__":
    main()
