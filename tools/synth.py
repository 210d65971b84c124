"""Synthetic Quick, Draw! drawings: a small, learnable dataset with no download.

  python -m tools.synth --output DIR --classes K --per_class N [--seed S]

Simple shapes drawn as people draw in the game (wobbly strokes in any order,
varied size and rotation, the odd stray stroke), written as the dataset's
simplified ndjson, so the demo and the tests run the real pipeline offline.
Some classes overlap by construction (a hexagon is nearly a circle, a house
without its roof a square), so a good model stays short of 100%. Every
drawing is seeded from (seed, class, index): the same seed gives the same
bytes, whatever the number of classes.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import orjson

from drawing import features as F
from drawing import flags
from drawing.flags import flag
from tools.shapes import CLASSES, GENERATORS, STEP, Strokes, densify

# Canvas size of the simplified format: drawings are fitted into [0, CANVAS].
CANVAS = 255
# Ramer-Douglas-Peucker tolerance the dataset's simplification used, in pixels.
RDP_EPSILON = 2.0

_COUNTRIES = ("US", "GB", "CA", "DE", "BR", "RU", "FR", "AU", "PL", "KR", "TH", "IT")
_COUNTRY_WEIGHTS = np.array([40, 10, 6, 5, 5, 5, 4, 4, 3, 3, 3, 3], dtype=float)
_COUNTRY_WEIGHTS /= _COUNTRY_WEIGHTS.sum()
_EPOCH = datetime.datetime(2017, 1, 20, tzinfo=datetime.UTC)
_TIMESTAMP_SPAN_S = 90 * 24 * 3600
# key_ids are 16-digit numbers like the dataset's; see `key_id`.
_KEY_BASE = 4_000_000_000_000_000
_MAX_PER_CLASS = 10**8
DEFAULT_SEED = 0


# --------------------------------------------------------------------------
# From template to simplified-format strokes.


def _wobble(path: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Smooth hand tremor: slow sinusoids along the stroke plus a little noise.

    Short strokes (eyes, doors, antennae) wobble less: a hand drawing a small
    detail moves less, and a full-size tremor would turn them into scribbles.
    """
    dense = densify(path)
    n = len(dense)
    amount *= min(1.0, n * STEP / 0.5)
    t = np.linspace(0, 1, n)[:, None]
    freq = rng.uniform(0.5, 3.0, size=(1, 2, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(1, 2, 2))
    amp = amount * rng.uniform(0.3, 1.0, size=(1, 2, 2))
    offset = (amp * np.sin(2 * np.pi * freq * t[..., None] + phase)).sum(axis=2)
    return dense + offset + rng.normal(0, amount * 0.1, size=dense.shape)


def _stray_stroke(rng: np.random.Generator) -> np.ndarray:
    """A short scribble or line somewhere on the canvas: the dataset is full of them."""
    start = rng.uniform(-0.6, 0.6, size=2)
    steps = rng.normal(0, 0.12, size=(int(rng.integers(1, 5)), 2))
    return np.concatenate([start[None], start + np.cumsum(steps, axis=0)])


def _rdp(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification, as the simplified dataset applied."""
    if len(points) < 3:
        return points
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, len(points) - 1)]
    while stack:
        lo, hi = stack.pop()
        if hi - lo < 2:
            continue
        a, b = points[lo], points[hi]
        seg = points[lo + 1 : hi] - a
        ab = b - a
        norm = np.hypot(*ab)
        if norm == 0:
            dist = np.hypot(seg[:, 0], seg[:, 1])
        else:
            dist = np.abs(ab[0] * seg[:, 1] - ab[1] * seg[:, 0]) / norm
        i = int(np.argmax(dist))
        if dist[i] > epsilon:
            mid = lo + 1 + i
            keep[mid] = True
            stack += [(lo, mid), (mid, hi)]
    return points[keep]


def _fit_canvas(strokes: Strokes) -> Strokes:
    """Aligns to the top-left corner and scales uniformly so the longer side is 255."""
    allpts = np.concatenate(strokes)
    lower = allpts.min(axis=0)
    extent = float((allpts.max(axis=0) - lower).max()) or 1.0
    return [(s - lower) * (CANVAS / extent) for s in strokes]


def _to_int(stroke: np.ndarray) -> np.ndarray:
    """Rounds to pixels and drops repeated points, as a 1 px resampling would."""
    pixels = np.clip(np.rint(stroke), 0, CANVAS).astype(np.int64)
    moved = np.any(np.diff(pixels, axis=0) != 0, axis=1)
    return pixels[np.concatenate([[True], moved])]


def draw(word: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Draws one `word` the way a player might, in the simplified format.

    Args:
      word: One of `CLASSES`.
      rng: The drawing's own generator; the drawing is a pure function of it.

    Returns:
      Strokes as int64 [n, 2] arrays of x, y in 0-255 (y grows downward),
      in drawing order, fitted into the canvas like the dataset's drawings.
    """
    template, max_rotation = GENERATORS[word](rng)
    strokes = [_wobble(s, rng, rng.uniform(0.008, 0.03)) for s in template]
    if rng.random() < 0.15:
        strokes.insert(int(rng.integers(len(strokes) + 1)), _stray_stroke(rng))
    # Whole-drawing distortion: rotation, aspect, shear.
    angle = rng.uniform(-max_rotation, max_rotation)
    c, s = np.cos(angle), np.sin(angle)
    aspect = np.exp(rng.normal(0, 0.18))
    shear = rng.normal(0, 0.08)
    matrix = np.array([[c, -s], [s, c]]) @ np.array([[aspect, shear], [0, 1 / aspect]])
    strokes = _fit_canvas([p @ matrix.T for p in strokes])
    strokes = _fit_canvas([_rdp(p, RDP_EPSILON) for p in strokes])
    return [_to_int(p) for p in strokes]


def key_id(seed: int, class_position: int, index: int) -> str:
    """A unique, deterministic, 16-digit key_id for drawing `index` of a class.

    The index is scrambled by a bijection mod 10**8 so that ids do not run in
    order (a split by key_id hash then sees no pattern); different seeds get
    different id ranges.
    """
    if not 0 <= index < _MAX_PER_CLASS:
        raise ValueError(f"index {index} out of range 0..{_MAX_PER_CLASS - 1}")
    scrambled = (index * 48271 + 12345) % _MAX_PER_CLASS
    return str(_KEY_BASE + (seed % 10**5) * 10**10 + class_position * 10**8 + scrambled)


def _timestamp(rng: np.random.Generator) -> str:
    offset = datetime.timedelta(
        microseconds=int(rng.integers(_TIMESTAMP_SPAN_S * 10**6))
    )
    # The dataset prints five decimals of the second.
    return (_EPOCH + offset).strftime("%Y-%m-%d %H:%M:%S.%f")[:-1] + " UTC"


def generate(word: str, count: int, seed: int = DEFAULT_SEED) -> Iterator[dict]:
    """Yields `count` Quick, Draw! records of class `word`.

    Each record has the dataset's fields in the dataset's order: word,
    countrycode, timestamp, recognized, key_id, drawing ([[xs], [ys]] per stroke,
    plain ints). Drawing i depends only on (seed, word, i).
    """
    if word not in GENERATORS:
        raise ValueError(f"unknown class {word!r}; available: {', '.join(CLASSES)}")
    position = CLASSES.index(word)
    for i in range(count):
        rng = np.random.default_rng([seed, position, i])
        strokes = draw(word, rng)
        yield {
            F.WORD: word,
            "countrycode": _COUNTRIES[
                int(rng.choice(len(_COUNTRIES), p=_COUNTRY_WEIGHTS))
            ],
            "timestamp": _timestamp(rng),
            F.RECOGNIZED: bool(rng.random() > 0.06),
            F.KEY_ID: key_id(seed, position, i),
            F.DRAWING: [[s[:, 0].tolist(), s[:, 1].tolist()] for s in strokes],
        }


def to_line(record: dict) -> bytes:
    """One ndjson line (without the newline), compact like the dataset's."""
    return orjson.dumps(record)


def write_dataset(
    output_dir: str | Path, num_classes: int, per_class: int, seed: int = DEFAULT_SEED
) -> list[Path]:
    """Writes `<output_dir>/<class>.ndjson` for the first `num_classes` classes.

    Returns:
      The files written, in `CLASSES` order.

    Raises:
      ValueError: if more classes are asked for than exist, or counts are negative.
    """
    if not 1 <= num_classes <= len(CLASSES):
        raise ValueError(f"num_classes must be 1..{len(CLASSES)}, got {num_classes}")
    if not 0 <= per_class <= _MAX_PER_CLASS:
        raise ValueError(f"per_class must be 0..{_MAX_PER_CLASS}, got {per_class}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for word in CLASSES[:num_classes]:
        path = output_dir / f"{word}.ndjson"
        with path.open("wb") as f:
            for record in generate(word, per_class, seed):
                f.write(to_line(record) + b"\n")
        paths.append(path)
    return paths


@dataclasses.dataclass(frozen=True)
class Args:
    """Command-line settings; each default lives here."""

    output: Path = flag(help="output directory", type=Path, required=True)
    classes: int = flag(
        len(CLASSES), f"number of classes, 1..{len(CLASSES)} ({', '.join(CLASSES)})",
        type=int,
    )  # fmt: skip
    per_class: int = flag(1000, "drawings per class", type=int)
    seed: int = flag(DEFAULT_SEED, "random seed", type=int)

    def __post_init__(self) -> None:
        if not 1 <= self.classes <= len(CLASSES):
            raise ValueError(f"--classes must be between 1 and {len(CLASSES)}")
        if self.per_class < 0:
            raise ValueError("--per_class must not be negative")
        if self.seed < 0:
            raise ValueError("--seed must not be negative")


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Flags -> Args."""
    description = "Write a synthetic Quick, Draw! dataset (simplified ndjson)."
    return flags.parse(Args, argv, "python -m tools.synth", description, False)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with flags.one_line_errors("tools.synth"), flags.writing("--output", args.output):
        paths = write_dataset(args.output, args.classes, args.per_class, args.seed)
    print(f"wrote {args.per_class} drawings x {len(paths)} classes to {args.output}")


if __name__ == "__main__":
    main()
