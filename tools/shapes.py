"""The synthetic classes: one template function per Quick, Draw! class.

Each function draws a template in a unit box around the origin (y down) the
way players draw that class, with its common variants (stroke order and
direction, split strokes, optional details), and says how much rotation the
class tolerates. `tools.synth` turns a template into a dataset-like drawing.
Some classes overlap by construction (a hexagon looks like a wobbly circle, a
house without its roof is a square), so a good model stays short of 100%.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Template spacing before wobble, in units of the drawing's size: fine enough
# that the wobble is smooth and RDP, not the template, decides the point count.
STEP = 0.01

Strokes = list[np.ndarray]  # each float [n, 2], x right, y down


# --------------------------------------------------------------------------
# Geometry helpers. Templates live in a unit box around the origin, y down.


def densify(vertices: np.ndarray) -> np.ndarray:
    """Polyline through `vertices` resampled at `STEP` spacing (ends kept)."""
    vertices = np.asarray(vertices, dtype=float)
    seg = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    if dist[-1] == 0:
        return vertices[:1].copy()
    t = np.linspace(0.0, dist[-1], max(2, int(np.ceil(dist[-1] / STEP)) + 1))
    return np.stack(
        [np.interp(t, dist, vertices[:, 0]), np.interp(t, dist, vertices[:, 1])], 1
    )


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, sweep: float
) -> np.ndarray:
    """Points along an elliptical arc; negative `sweep` draws it the other way."""
    n = max(3, int(abs(sweep) * max(rx, ry) / STEP))
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


GENERATORS: dict[str, Callable[[np.random.Generator], tuple[Strokes, float]]] = {
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
CLASSES: tuple[str, ...] = tuple(GENERATORS)
