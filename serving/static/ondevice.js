// The model in this tab: the export's on-device model run by LiteRT.js.
//
// app.js imports this module when the page runs the model itself (the switch,
// `?engine=tab`, or the static site of serving.site). It loads the runtime
// from `litert/` (LiteRT.js's WebAssembly build, on the CPU: no WebGPU
// needed) and the model from `ondevice/` (`model.json`, then its float32
// model, or the int8 one when that is the only one there), both from the
// page's own host. A drawing is simplified as the server simplifies it
// (simplify.js, the twin of drawing/simplify.py), flattened into the points
// of the shortest signature that holds it, and scored: the answer is the
// server's `{classes, probabilities}` for the model's k, so the page shows
// the same guesses either way.

import { loadAndCompile, loadLiteRt, Tensor } from "./litert/litert.js";
import { simplifyStrokes, toModelPoints } from "./simplify.js";

const RUNTIME = "litert/wasm/";
const MODEL_DIR = "ondevice/";

let loading = null;

/** The runtime and the model, loaded once: {meta, model, file}. */
function ready() {
  loading ??= (async () => {
    const response = await fetch(`${MODEL_DIR}model.json`);
    if (!response.ok) throw new Error(`no on-device model here (${response.status})`);
    const meta = await response.json();
    const file = meta.models.float32 ?? meta.models.int8;
    await loadLiteRt(RUNTIME);
    const model = await loadAndCompile(MODEL_DIR + file, { accelerator: "wasm" });
    return { meta, model, file };
  })();
  return loading;
}

/** The model's metadata (model.json), once the runtime and model are loaded. */
export function load() {
  return ready().then(({ meta, file }) => ({ ...meta, file }));
}

/** The top k classes and probabilities of raw strokes [[xs, ys, ts], ...]. */
export async function predict(strokes, k) {
  const { meta, model } = await ready();
  const simplified = simplifyStrokes(strokes);
  const total = simplified.reduce((n, [xs]) => n + xs.length, 0);
  if (total < 2) throw new Error("fewer than 2 points after simplification");
  const length = meta.lengths.find((n) => n >= total) ?? meta.lengths[meta.lengths.length - 1];
  const { points, count } = toModelPoints(simplified, length);
  const inputs = {
    points: new Tensor(points, [1, length, 3]),
    count: new Tensor(new Int32Array([count]), [1]),
  };
  const signature = meta.signature.replace("{length}", String(length));
  let probabilities;
  try {
    const outputs = await model.run(signature, inputs);
    probabilities = outputs.probabilities.toTypedArray().slice();
    for (const tensor of Object.values(outputs)) tensor.delete();
  } finally {
    for (const tensor of Object.values(inputs)) tensor.delete();
  }
  if (!probabilities.every(Number.isFinite)) throw new Error("the model found no usable ink");
  // Most probable first; ties keep the lower class index first, as top_k does.
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]);
  const top = order.slice(0, Math.min(k, meta.k));
  return { classes: top.map((i) => meta.classes[i]), probabilities: top.map((i) => probabilities[i]) };
}
