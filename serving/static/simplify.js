// The dataset's simplification of a raw drawing, as the server does it: the
// twin of drawing/simplify.py for the model in the tab.
//
// serving.serve simplifies the page's raw strokes (drawing.simplify) before
// the model sees them; the model in the tab must see the same points, so this
// follows the Python line by line, in the same float64 operations and order:
// align to the top-left corner, scale the longer side to 0-255, the samples
// at 1 px along each stroke that RDP may keep, RDP at epsilon 2, then round
// half to even (numpy's rint). Two lengths are computed as the Python computes
// them: numpy's hypot is the C library's (glibc 2.35+: `glibcHypot`) and
// math.hypot is CPython's own (`pythonHypot`); JavaScript's Math.hypot
// differs from both in the last bit. tests/serving/test_simplify_js.py holds
// the two simplifications equal on the sample's raw drawings and random ones.
//
// `toModelPoints` then flattens the simplified strokes as the on-device model
// takes them (trainer/ondevice_export.py): x, y, and 1 on each stroke's last
// point.

const SIZE = 255;
const SPACING = 1.0;
const EPSILON = 2.0;

// ---------------------------------------------------------------- hypot twins
function glibcKernel(ax, ay) {
  // glibc's e_hypot.c without FMA (Borges' corrected sqrt(ax^2 + ay^2)).
  let h = Math.sqrt(ax * ax + ay * ay);
  let t1, t2;
  if (h <= 2.0 * ay) {
    const delta = h - ay;
    t1 = ax * (2.0 * delta - ax);
    t2 = (delta - 2.0 * (ax - ay)) * delta;
  } else {
    const delta = h - ax;
    t1 = 2.0 * delta * (ax - 2.0 * ay);
    t2 = (4.0 * delta - ay) * ay + delta * delta;
  }
  h -= (t1 + t2) / (2.0 * h);
  return h;
}

const GLIBC_SCALE = 2 ** -600;
const GLIBC_LARGE = 2 ** 511;
const GLIBC_TINY = 2 ** -511;
const GLIBC_EPS = 2 ** -54;

/** numpy's hypot of finite x, y: glibc's (2.35 and later). */
export function glibcHypot(x, y) {
  x = Math.abs(x);
  y = Math.abs(y);
  const ax = x < y ? y : x;
  const ay = x < y ? x : y;
  if (ax > GLIBC_LARGE) {
    if (ay <= ax * GLIBC_EPS) return ax + ay;
    return glibcKernel(ax * GLIBC_SCALE, ay * GLIBC_SCALE) / GLIBC_SCALE;
  }
  if (ay < GLIBC_TINY) {
    if (ax >= ay / GLIBC_EPS) return ax + ay;
    return glibcKernel(ax / GLIBC_SCALE, ay / GLIBC_SCALE) * GLIBC_SCALE;
  }
  if (ay <= ax * GLIBC_EPS) return ax + ay;
  return glibcKernel(ax, ay);
}

const bits = new DataView(new ArrayBuffer(8));
const DBL_MIN = 2.2250738585072014e-308;
const T27 = 134217729.0; // 2^27 + 1: Veltkamp's split

/** frexp's exponent of a positive finite double: value = f * 2^e, f in [0.5, 1). */
function exponent(value) {
  bits.setFloat64(0, value);
  const biased = (bits.getUint32(0) >>> 20) & 0x7ff;
  return biased ? biased - 1022 : exponent(value * 2 ** 64) - 64;
}

/** 2^e for -1074 <= e <= 1023, exactly. */
function powerOfTwo(e) {
  if (e < -1022) return powerOfTwo(e + 64) * 2 ** -64;
  bits.setUint32(0, (e + 1023) << 20);
  bits.setUint32(4, 0);
  return bits.getFloat64(0);
}

/** CPython 3.11's math.hypot of finite x, y (vector_norm of two values). */
export function pythonHypot(x, y) {
  const vec = [Math.abs(x), Math.abs(y)];
  return vectorNorm(vec, Math.max(vec[0], vec[1]));
}

function vectorNorm(vec, max) {
  if (max === 0.0) return max;
  const maxE = exponent(max);
  if (maxE < -1023) {
    // subnormal: convert to normals first, as CPython does
    return DBL_MIN * vectorNorm(vec.map((v) => v / DBL_MIN), max / DBL_MIN);
  }
  const scale = powerOfTwo(-maxE);
  let csum = 1.0;
  let frac1 = 0.0;
  let frac2 = 0.0;
  let frac3 = 0.0;
  let x, t, hi, lo, oldcsum;
  for (const value of vec) {
    x = value * scale;
    t = x * T27;
    hi = t - (t - x);
    lo = x - hi;
    x = hi * hi;
    oldcsum = csum;
    csum += x;
    frac1 += oldcsum - csum + x;
    x = 2.0 * hi * lo;
    oldcsum = csum;
    csum += x;
    frac2 += oldcsum - csum + x;
    frac3 += lo * lo;
  }
  const h = Math.sqrt(csum - 1.0 + (frac1 + frac2 + frac3));
  x = h;
  t = x * T27;
  hi = t - (t - x);
  lo = x - hi;
  x = -hi * hi;
  oldcsum = csum;
  csum += x;
  frac1 += oldcsum - csum + x;
  x = -2.0 * hi * lo;
  oldcsum = csum;
  csum += x;
  frac2 += oldcsum - csum + x;
  x = -lo * lo;
  oldcsum = csum;
  csum += x;
  frac3 += oldcsum - csum + x;
  x = csum - 1.0 + (frac1 + frac2 + frac3);
  return (h + x / (2.0 * h)) / scale;
}

/** numpy's rint: the nearest integer, halves to even. */
export function rint(value) {
  const floor = Math.floor(value);
  const rest = value - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// ------------------------------------------------------------ simplification
/** Steps 1-2: minimum at 0, the longer axis scaled to span 0..SIZE. */
function fitBox(xs, ys) {
  let lowX = Infinity, lowY = Infinity, highX = -Infinity, highY = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    lowX = Math.min(lowX, xs[i]);
    lowY = Math.min(lowY, ys[i]);
    highX = Math.max(highX, xs[i]);
    highY = Math.max(highY, ys[i]);
  }
  const extent = Math.max(highX - lowX, highY - lowY);
  if (!Number.isFinite(extent)) throw new Error("coordinates span more than float64 can hold");
  if (extent === 0) return [xs.map((x) => x - lowX), ys.map((y) => y - lowY)];
  return [xs.map((x) => ((x - lowX) * SIZE) / extent), ys.map((y) => ((y - lowY) * SIZE) / extent)];
}

/** Step 3, reduced to what RDP can keep: a stroke's first and last point and,
 * on each segment, its first and last sample at 1 px of arc strictly inside. */
function candidateSamples(xs, ys) {
  const sx = [xs[0]];
  const sy = [ys[0]];
  let arc = 0.0;
  for (let i = 0; i + 1 < xs.length; i++) {
    const dx = xs[i + 1] - xs[i];
    const dy = ys[i + 1] - ys[i];
    const length = glibcHypot(dx, dy);
    const a0 = arc;
    const a1 = arc + length;
    arc = a1;
    const first = Math.max(Math.ceil(a0 / SPACING), 1.0);
    const last = Math.ceil(a1 / SPACING) - 1.0;
    for (const step of first < last ? [first, last] : first === last ? [first] : []) {
      const t = (step * SPACING - a0) / length;
      sx.push(xs[i] + t * dx);
      sy.push(ys[i] + t * dy);
    }
  }
  sx.push(xs[xs.length - 1]);
  sy.push(ys[ys.length - 1]);
  return [sx, sy];
}

/** Step 4: Ramer-Douglas-Peucker; which samples are kept. */
function rdpKeep(x, y, epsilon) {
  const keep = new Uint8Array(x.length);
  keep[0] = keep[x.length - 1] = 1;
  const todo = [[0, x.length - 1]];
  while (todo.length) {
    const [a, b] = todo.pop();
    if (b - a < 2) continue;
    const dx = x[b] - x[a];
    const dy = y[b] - y[a];
    const length = pythonHypot(dx, dy);
    let best = -1;
    let farthest = -Infinity;
    for (let j = a + 1; j < b; j++) {
      const rx = x[j] - x[a];
      const ry = y[j] - y[a];
      const dist = length ? Math.abs(dx * ry - dy * rx) / length : glibcHypot(rx, ry);
      if (dist > farthest) {
        farthest = dist;
        best = j;
      }
    }
    if (farthest > epsilon) {
      keep[best] = 1;
      todo.push([a, best], [best, b]);
    }
  }
  return keep;
}

/**
 * The dataset's simplification of strokes [[xs, ys(, ts)], ...] in any
 * coordinates: [[xs, ys], ...] of integers in 0-255, one per non-empty
 * stroke, each of at least two points (drawing.simplify.simplify_strokes).
 */
export function simplifyStrokes(strokes) {
  const kept = strokes.filter((stroke) => stroke[0].length > 0);
  if (!kept.length) return [];
  const [allX, allY] = fitBox(kept.flatMap((s) => s[0]), kept.flatMap((s) => s[1]));
  const out = [];
  let start = 0;
  for (const stroke of kept) {
    const end = start + stroke[0].length;
    const [sx, sy] = candidateSamples(allX.slice(start, end), allY.slice(start, end));
    const keep = rdpKeep(sx, sy, EPSILON);
    const xs = [];
    const ys = [];
    for (let i = 0; i < sx.length; i++) {
      if (keep[i]) {
        xs.push(rint(sx[i]));
        ys.push(rint(sy[i]));
      }
    }
    out.push([xs, ys]);
    start = end;
  }
  return out;
}

/**
 * Simplified strokes as the on-device model takes them: {points, count},
 * points a Float32Array [length, 3] of x, y and 1 on each stroke's last point,
 * zero after the drawing. A drawing of more than `length` points is cut to its
 * first `length`, its last stroke ending there (serving/ondevice_predictor.py).
 */
export function toModelPoints(strokes, length) {
  const points = new Float32Array(length * 3);
  let count = 0;
  for (const [xs, ys] of strokes) {
    for (let i = 0; i < xs.length && count < length; i++, count++) {
      points[3 * count] = xs[i];
      points[3 * count + 1] = ys[i];
      points[3 * count + 2] = i === xs.length - 1 ? 1 : 0;
    }
  }
  if (count > 0) points[3 * (count - 1) + 2] = 1;
  return { points, count };
}
