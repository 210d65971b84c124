"""Synthetic Quick, Draw! data: a small, learnable dataset that needs no download.

The real dataset is 23 GB and the sample beside the project has too few
drawings per class to train on, so the demo, the benchmarks and the end-to-end
tests need data they can make on the spot. This module draws simple shapes the
way people do in the game (wobbly lines, strokes in any order and direction,
varied size, aspect and rotation, the odd stray stroke) and writes them in the
dataset's *simplified* ndjson layout, so the whole pipeline runs on them exactly
as it runs on real files.

The classes are meant to be learnable but not trivially so: some of them
overlap by construction (a hexagon looks like a wobbly circle, a house without
its roof is a square, a smiley face without features is a circle, a lightning
bolt is a zigzag on its side, a snail without its body is a spiral, and one
drawing in seven has a stray stroke), so a good model stays short of 100 %.
The class names are real Quick, Draw! categories, so synthetic files can sit
beside real ones.

Everything is pure numpy and orjson and deterministic: every drawing has its
own random generator seeded from (seed, class, index), so the same seed gives
byte-identical files whatever the number of classes asked for, and the first
drawings of a bigger dataset are the drawings of a smaller one.

Usage:
  python -m pipeline.synth --output DIR --classes K --per_class N [--seed S]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import orjson

# Canvas size of the simplified format: drawings are fitted into [0, CANVAS].
CANVAS = 255
# Ramer-Douglas-Peucker tolerance the dataset's simplification used, in pixels.
RDP_EPSILON = 2.0
# Template spacing before wobble, in units of the drawing's size: fine enough
# that the wobble is smooth and RDP, not the template, decides the point count.
_STEP = 0.01

_COUNTRIES = ("US", "GB", "CA", "DE", "BR", "RU", "FR", "AU", "PL", "KR", "TH", "IT")
_COUNTRY_WEIGHTS = np.array([40, 10, 6, 5, 5, 5, 4, 4, 3, 3, 3, 3], dtype=float)
_COUNTRY_WEIGHTS /= _COUNTRY_WEIGHTS.sum()
_EPOCH = datetime.datetime(2017, 1, 20, tzinfo=datetime.UTC)
_TIMESTAMP_SPAN_S = 90 * 24 * 3600
# key_ids are 16-digit numbers like the dataset's; see `key_id`.
_KEY_BASE = 4_000_000_000_000_000
_MAX_PER_CLASS = 10**8

Strokes = list[np.ndarray]  # each float [n, 2], x right, y down


# --------------------------------------------------------------------------
# Geometry helpers. Templates live in a unit box around the origin, y down.


def _densify(vertices: np.ndarray) -> np.ndarray:
    """Polyline through `vertices` resampled at `_STEP` spacing (ends kept)."""
    vertices = np.asarray(vertices, dtype=float)
    seg = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    if dist[-1] == 0:
        return vertices[:1].copy()
    t = np.linspace(0.0, dist[-1], max(2, int(np.ceil(dist[-1] / _STEP)) + 1))
    return np.stack(
        [np.interp(t, dist, vertices[:, 0]), np.interp(t, dist, vertices[:, 1])], 1
    )


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, sweep: float
) -> np.ndarray:
    """Points along an elliptical arc; negative `sweep` draws it the other way."""
    n = max(3, int(abs(sweep) * max(rx, ry) / _STEP))
    a = start + np.linspace(0.0, sweep, n)
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def _closed(
    vertices: Sequence[Sequence[float]], rng: np.random.Generator
) -> np.ndarray:
    """A closed polygon drawn from a random corner in a random direction."""
    v = np.asarray(vertices, dtype=float)
    v = np.roll(v, -int(rng.integers(len(v))), axis=0)
    if rng.random() < 0.5:
        v = v[::-1]
    return np.concatenate([v, v[:1]])


def _polygon_strokes(
    vertices: Sequence[Sequence[float]], rng: np.random.Generator
) -> list[np.ndarray]:
    """A polygon as people draw it: one closed stroke, or one stroke per side(s)."""
    closed = _closed(vertices, rng)
    n = len(closed) - 1
    mode = rng.random()
    if mode < 0.6 or n < 3:
        return [closed]
    if mode < 0.8:  # two strokes, split at a random corner
        cut = int(rng.integers(1, n))
        return [closed[: cut + 1], closed[cut:]]
    sides = [closed[i : i + 2] for i in range(n)]  # one stroke per side
    return [s[::-1] if rng.random() < 0.3 else s for s in sides]


def _regular(n: int, rotation: float, rx: float = 0.5, ry: float = 0.5) -> np.ndarray:
    a = rotation + np.arange(n) * 2 * np.pi / n
    return np.stack([rx * np.cos(a), ry * np.sin(a)], 1)


# --------------------------------------------------------------------------
# One function per class. Each returns template strokes (already in drawing
# order) and how much rotation the class tolerates, in radians.


def _circle(rng: np.random.Generator) -> tuple[Strokes, float]:
    start = rng.uniform(0, 2 * np.pi)
    sweep = rng.choice([-1, 1]) * 2 * np.pi * rng.uniform(0.92, 1.12)
    if rng.random() < 0.12:  # two half circles
        half = sweep / 2
        return [
            _arc(0, 0, 0.5, 0.5, start, half),
            _arc(0, 0, 0.5, 0.5, start + half, half),
        ], 0.3
    return [_arc(0, 0, 0.5, 0.5, start, sweep)], 0.3


def _square(rng: np.random.Generator) -> tuple[Strokes, float]:
    corners = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    return _polygon_strokes(corners, rng), 0.2


def _triangle(rng: np.random.Generator) -> tuple[Strokes, float]:
    apex = rng.uniform(-0.25, 0.25)
    corners = [(apex, -0.5), (0.5, 0.45), (-0.5, 0.45)]
    return _polygon_strokes(corners, rng), 0.35


def _star(rng: np.random.Generator) -> tuple[Strokes, float]:
    outer = _regular(5, -np.pi / 2)
    if rng.random() < 0.55:  # pentagram in one go, the usual way
        order = np.array([0, 2, 4, 1, 3, 0])
        path = outer[np.roll(order[:-1], -int(rng.integers(5)))]
        path = np.concatenate([path, path[:1]])
        return [path[::-1] if rng.random() < 0.5 else path], 0.3
    radius = rng.uniform(0.18, 0.28)
    inner = _regular(5, -np.pi / 2 + np.pi / 5, radius, radius)
    outline = np.empty((10, 2))
    outline[0::2], outline[1::2] = outer, inner
    return [_closed(outline, rng)], 0.3


def _zigzag(rng: np.random.Generator) -> tuple[Strokes, float]:
    teeth = int(rng.integers(3, 8))
    x = np.linspace(-0.5, 0.5, 2 * teeth + 1)
    y = np.where(np.arange(x.size) % 2 == 0, 0.5, -0.5) * rng.uniform(0.3, 1.0)
    path = np.stack([x, y], 1)
    return [path[::-1] if rng.random() < 0.3 else path], 0.35


def _lightning(rng: np.random.Generator) -> tuple[Strokes, float]:
    w = rng.uniform(0.15, 0.35)
    if rng.random() < 0.6:  # the bolt as a single jagged line, top to bottom
        jags = int(rng.integers(2, 4))
        y = np.linspace(-0.5, 0.5, 2 * jags)
        x = np.where(np.arange(y.size) % 2 == 0, w, -w) + np.linspace(
            0.15, -0.15, y.size
        )
        path = np.stack([x, y], 1)
        return [path[::-1] if rng.random() < 0.2 else path], 0.4
    outline = [
        (0.1, -0.5),
        (-0.3, 0.05),
        (0.0, 0.05),
        (-0.15, 0.5),
        (0.3, -0.1),
        (0.0, -0.1),
    ]
    return [_closed(np.array(outline) * [1 + w, 1], rng)], 0.3


def _hexagon(rng: np.random.Generator) -> tuple[Strokes, float]:
    return _polygon_strokes(_regular(6, rng.choice([0, np.pi / 6])), rng), 0.3


def _snail(rng: np.random.Generator) -> tuple[Strokes, float]:
    turns = rng.uniform(1.5, 3.5)
    a = np.linspace(0, turns * 2 * np.pi, int(turns * 90))
    r = 0.36 * (0.05 + a / a[-1]) / 1.05
    spin = rng.choice([-1, 1])
    shell = np.stack([r * np.cos(spin * a), -0.08 + r * np.sin(spin * a)], 1)
    shell = shell[::-1] if rng.random() < 0.3 else shell
    foot = 0.28 + rng.uniform(0, 0.08)
    neck = rng.uniform(0.05, 0.2)
    body = np.array(
        [(-0.5, foot), (0.4, foot), (0.5, foot - neck), (0.42, foot - neck - 0.1)]
    )
    strokes = [shell]
    if rng.random() > 0.08:  # a shell without a body is just a spiral
        strokes.append(body[::-1] if rng.random() < 0.3 else body)
        if rng.random() < 0.6:  # antennae
            tip = body[-1]
            for dx in (-0.05, 0.08):
                strokes.append(np.array([tip, tip + (dx, -rng.uniform(0.12, 0.2))]))
    if rng.random() < 0.3:
        strokes = strokes[1:] + strokes[:1]
    if rng.random() < 0.5:  # facing left
        strokes = [s * (-1, 1) for s in strokes]
    return strokes, 0.2


def _house(rng: np.random.Generator) -> tuple[Strokes, float]:
    eave = rng.uniform(-0.15, 0.1)
    body = [(-0.4, eave), (0.4, eave), (0.4, 0.5), (-0.4, 0.5)]
    roof_overhang = rng.uniform(0.0, 0.1)
    roof = np.array(
        [
            (-0.4 - roof_overhang, eave),
            (rng.uniform(-0.1, 0.1), -0.5),
            (0.4 + roof_overhang, eave),
        ]
    )
    roof = roof[::-1] if rng.random() < 0.4 else roof
    parts: list[list[np.ndarray]] = [_polygon_strokes(body, rng)]
    if rng.random() > 0.07:  # a house without a roof is a square
        parts.append([roof])
    if rng.random() < 0.6:  # a door
        dx = rng.uniform(-0.25, 0.15)
        parts.append(
            [np.array([(dx, 0.5), (dx, 0.2), (dx + 0.15, 0.2), (dx + 0.15, 0.5)])]
        )
    if rng.random() < 0.4:  # a window
        wx, wy = rng.uniform(0.05, 0.2), eave + rng.uniform(0.08, 0.15)
        window = [(wx, wy), (wx + 0.12, wy), (wx + 0.12, wy + 0.12), (wx, wy + 0.12)]
        parts.append([_closed(window, rng)])
    if rng.random() < 0.25:
        parts[:2] = parts[1::-1]  # roof first
    return [s for part in parts for s in part], 0.15


def _smiley(rng: np.random.Generator) -> tuple[Strokes, float]:
    face = _circle(rng)[0]
    features: list[np.ndarray] = []
    if rng.random() > 0.06:  # a face with no features is a circle
        eye_y, eye_dx = rng.uniform(-0.22, -0.08), rng.uniform(0.12, 0.22)
        for side in (-1, 1):
            if rng.random() < 0.5:
                features.append(_arc(side * eye_dx, eye_y, 0.04, 0.05, 0, 2 * np.pi))
            else:
                features.append(
                    np.array([(side * eye_dx, eye_y), (side * eye_dx, eye_y + 0.07)])
                )
        mouth_y = rng.uniform(0.0, 0.12)
        width = rng.uniform(0.18, 0.3)
        mouth = _arc(
            0, mouth_y, width, rng.uniform(0.08, 0.18), 0.15 * np.pi, 0.7 * np.pi
        )
        features.append(mouth[::-1] if rng.random() < 0.5 else mouth)
    if rng.random() < 0.5:
        features[:2] = features[1::-1]
    strokes = face + features if rng.random() < 0.85 else features + face
    return strokes, 0.25


_GENERATORS: dict[str, Callable[[np.random.Generator], tuple[Strokes, float]]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "zigzag": _zigzag,
    "smiley face": _smiley,
    "house": _house,
    "hexagon": _hexagon,
    "lightning": _lightning,
    "snail": _snail,
}
#: The classes available, in the order `--classes K` takes them.
CLASSES: tuple[str, ...] = tuple(_GENERATORS)


# --------------------------------------------------------------------------
# From template to simplified-format strokes.


def _wobble(path: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Smooth hand tremor: slow sinusoids along the stroke plus a little noise.

    Short strokes (eyes, doors, antennae) wobble less: a hand drawing a small
    detail moves less, and a full-size tremor would turn them into scribbles.
    """
    dense = _densify(path)
    n = len(dense)
    amount *= min(1.0, n * _STEP / 0.5)
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
    template, max_rotation = _GENERATORS[word](rng)
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


def generate(word: str, count: int, seed: int = 0) -> Iterator[dict]:
    """Yields `count` Quick, Draw! records of class `word`.

    Each record has the dataset's fields in the dataset's order: word,
    countrycode, timestamp, recognized, key_id, drawing ([[xs], [ys]] per stroke,
    plain ints). Drawing i depends only on (seed, word, i).
    """
    if word not in _GENERATORS:
        raise ValueError(f"unknown class {word!r}; available: {', '.join(CLASSES)}")
    position = CLASSES.index(word)
    for i in range(count):
        rng = np.random.default_rng([seed, position, i])
        strokes = draw(word, rng)
        yield {
            "word": word,
            "countrycode": _COUNTRIES[
                int(rng.choice(len(_COUNTRIES), p=_COUNTRY_WEIGHTS))
            ],
            "timestamp": _timestamp(rng),
            "recognized": bool(rng.random() > 0.06),
            "key_id": key_id(seed, position, i),
            "drawing": [[s[:, 0].tolist(), s[:, 1].tolist()] for s in strokes],
        }


def to_line(record: dict) -> bytes:
    """One ndjson line (without the newline), compact like the dataset's."""
    return orjson.dumps(record)


def write_dataset(
    output_dir: str | Path, num_classes: int, per_class: int, seed: int = 0
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
    """Command-line settings."""

    output: Path
    classes: int
    per_class: int
    seed: int = 0


def parse_args(argv: Sequence[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.synth",
        description="Write a synthetic Quick, Draw! dataset (simplified ndjson).",
    )
    parser.add_argument("--output", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--classes",
        type=int,
        default=len(CLASSES),
        help=f"number of classes, 1..{len(CLASSES)} ({', '.join(CLASSES)})",
    )
    parser.add_argument(
        "--per_class", type=int, default=1000, help="drawings per class"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    ns = parser.parse_args(argv)
    if not 1 <= ns.classes <= len(CLASSES):
        parser.error(f"--classes must be between 1 and {len(CLASSES)}")
    if ns.per_class < 0:
        parser.error("--per_class must not be negative")
    if ns.seed < 0:
        parser.error("--seed must not be negative")
    return Args(
        output=ns.output, classes=ns.classes, per_class=ns.per_class, seed=ns.seed
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    paths = write_dataset(args.output, args.classes, args.per_class, args.seed)
    print(f"wrote {args.per_class} drawings x {len(paths)} classes to {args.output}")


if __name__ == "__main__":
    main()
