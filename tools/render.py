"""Pictures of drawings for people: a grid of sketches, with predictions.

A classifier is only trustworthy when someone has looked at its inputs: this
draws ndjson lines and TFRecord examples side by side (so a bug in the
preprocessing shows as a distorted sketch), optionally with a model's top
prediction on each, green when right and red when wrong.

Figures are drawn with matplotlib's object API and written straight to PNG,
so nothing global is set (no backend switch, no pyplot state) and it works on
machines without a display.

Usage:
  python -m tools.render INPUT... --output grid.png [--limit N]
      [--color_by_stroke] [--classes_file F] [--model MODEL_DIR] [--cols C]
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drawing import flags, logs
from drawing.export_marker import IncompleteExport
from drawing.flags import InputError, flag
from tools.panels import Panel, add_predictions, expand_inputs, is_tfrecord, load_panels

DEFAULT_LIMIT = 36
MAX_COLS = 8
_PANEL_IN = 1.7  # panel width and drawing height, inches
_TITLE_CHARS = 20  # a title line wider than this is wrapped
RIGHT, WRONG, NEUTRAL = "#1a7f37", "#cf222e", "#57606a"
_FRAME = "#d0d7de"
_DPI = 110


def figure(**kwargs):
    """A new matplotlib Figure, not registered with pyplot (nothing to close)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save(fig, output: str | Path) -> Path:
    """Writes the figure as a PNG, creating the folder."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=_DPI)
    return output


def short(text: str, width: int = _TITLE_CHARS, lines: int = 2) -> str:
    """Wraps a title to at most `lines` lines of `width` characters."""
    return "\n".join(textwrap.wrap(text, width, max_lines=lines, placeholder="…"))


def _frame(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(_FRAME)


def no_data(ax, what: str) -> None:
    """Marks an empty panel, so a missing input shows instead of a blank."""
    kwargs = {"ha": "center", "va": "center", "color": NEUTRAL}
    ax.text(0.5, 0.5, f"no {what}", transform=ax.transAxes, **kwargs)
    _frame(ax)


def draw_strokes(ax, strokes: Sequence[np.ndarray], color_by_stroke=False) -> None:
    """Draws strokes upright on `ax` (the dataset's y axis grows downward)."""
    from matplotlib import colormaps

    n = max(len(strokes), 1)
    colors = colormaps["plasma"](np.linspace(0.0, 0.85, n))
    for i, stroke in enumerate(strokes):
        stroke = np.asarray(stroke, dtype=float).reshape(-1, 2)
        color = colors[i] if color_by_stroke else "black"
        if len(stroke) == 1:  # a dot
            ax.plot(stroke[:, 0], stroke[:, 1], "o", color=color, markersize=2)
        else:
            ax.plot(stroke[:, 0], stroke[:, 1], "-", color=color, linewidth=1.2)
    ax.set_aspect("equal", adjustable="datalim")
    ax.invert_yaxis()
    _frame(ax)


def prediction_text(panel: Panel) -> tuple[str, str]:
    """The top prediction's line under a panel's title, and its colour."""
    result = panel.prediction or {}
    if "error" in result:
        return short(f"error: {result['error']}", lines=1), NEUTRAL
    top = (result.get("top_k") or [{}])[0]
    name = str(top.get("class", "?"))
    probability = top.get("probability")
    text = name if probability is None else f"{name} {float(probability):.0%}"
    return short(text, lines=1), RIGHT if name == panel.label else WRONG


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
    labels = [short(p.label) for p in panels]  # long names take two lines
    label_lines = max(label.count("\n") + 1 for label in labels)
    title_in = 0.25 + 0.16 * label_lines + (0.16 if has_predictions else 0.0)
    fig_h = rows * (_PANEL_IN + title_in) + (0.4 if title else 0.0)
    fig = figure(figsize=(cols * _PANEL_IN, fig_h))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, panel, label in itertools.zip_longest(axes.flat, panels, labels):
        if panel is None:
            ax.axis("off")
            continue
        draw_strokes(ax, panel.strokes, color_by_stroke)
        ax.set_title(label, fontsize=9, pad=14 if has_predictions else 3)
        if panel.prediction is not None:
            text, color = prediction_text(panel)
            kwargs = {"ha": "center", "va": "bottom", "fontsize": 8, "color": color}
            ax.text(0.5, 1.02, text, transform=ax.transAxes, **kwargs)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save(fig, output)


@dataclasses.dataclass(frozen=True)
class Args:
    """Command-line settings; each default lives here."""

    output: Path = flag(help="PNG to write", type=Path, required=True)
    inputs: tuple[str, ...] = flag(
        (), "files, globs, dirs", names=["inputs"], nargs="+", metavar="INPUT"
    )
    limit: int = flag(DEFAULT_LIMIT, "drawings", type=int)
    color_by_stroke: bool = flag(
        False, "colour strokes by their order", action="store_true"
    )
    classes_file: Path | None = flag(
        None, "class names for TFRecord class indices", type=Path
    )
    model: Path | None = flag(None, "model dir: show its top prediction", type=Path)
    cols: int | None = flag(None, "panels per row", type=int)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if self.limit < 1:
            raise ValueError("--limit must be at least 1")
        if self.cols is not None and self.cols < 1:
            raise ValueError("--cols must be at least 1")


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Flags -> Args."""
    description = "Draw ndjson drawings or TFRecord examples as a PNG grid."
    return flags.parse(Args, argv, "python -m tools.render", description)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: inputs -> one PNG grid."""
    args = parse_args(argv)
    with flags.one_line_errors("tools.render", FileNotFoundError, IncompleteExport):
        paths = expand_inputs(args.inputs)
        if args.model is not None and any(is_tfrecord(p) for p in paths):
            raise InputError(
                "--model needs ndjson input (TFRecords have no raw line to "
                "predict on): leave out --model, or give ndjson files"
            )
        panels = load_panels(paths, args.limit, args.classes_file)
        if not panels:
            raise InputError(
                f"no drawing to show in {', '.join(map(str, paths))} (lines "
                "skipped are named above): give ndjson drawings or TFRecord examples"
            )
        if args.model is not None:
            add_predictions(panels, args.model)
        with flags.writing("--output", args.output):
            out = render_grid(panels, args.output, args.cols, args.color_by_stroke)
    print(f"wrote {len(panels)} drawings to {out}")


if __name__ == "__main__":
    # TensorFlow is imported later, to read records or a model.
    logs.setup(sys.argv[1:], stderr_filter=True)
    main()
