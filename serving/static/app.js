// The drawing page of serving.serve: the model guesses while you draw.
//
// Strokes are recorded as [xs, ys, ts] in CSS pixels relative to the canvas
// (ts in ms since the drawing began) and sent raw to the REST API, which
// simplifies them as the dataset was. Or the model runs in this tab
// (ondevice.js: the export's on-device model, simplified the same way), with
// no request per stroke: the "In this tab" switch, `?engine=tab`, and always
// on the static site that serving.site writes (`<html data-site="static">`).
// Guesses are asked throttled, one at a time; answers for a drawing that has
// since been undone or cleared are dropped. `#guesses` carries `data-strokes`,
// `data-points` and `data-engine`: the drawing state its guesses were
// computed for and where, so tests wait on a condition, not a clock.
// `window.quickdraw` is what game.js (the game mode) uses: the metadata, each
// answer as it comes, clearing, and locking the canvas between rounds.
"use strict";

(() => {
  const MODEL = "quickdraw";
  const PREDICT_URL = `v1/models/${MODEL}:predict`;
  const METADATA_URL = `v1/models/${MODEL}/metadata`;
  const THROTTLE_MS = 120; // at most one request this often while drawing
  const SHOWN_GUESSES = 5; // asked for (at most the model's k)
  const CONFIDENT = 0.5; // "I see ..." above, "Maybe ...?" below
  const INK = "#1f2328";
  const LINE_WIDTH = 4;

  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const guessList = $("guesses");
  const verdict = $("verdict");
  const errorBox = $("error");
  const search = $("search");
  const classList = $("classes");
  const staticSite = document.documentElement.dataset.site === "static";
  const params = new URLSearchParams(location.search);
  let engine = staticSite || params.get("engine") === "tab" ? "tab" : "server";
  let tab = null; // ondevice.js, once imported

  // ---------------------------------------------------------------- drawing
  const strokes = []; // [[xs, ys, ts], ...]
  let generation = 0; // bumped by undo and clear: older answers are stale
  let pointer = null; // id of the pointer drawing the current stroke
  let locked = false; // the game locks the canvas between rounds
  let startTime = null;

  const pointCount = () => strokes.reduce((n, s) => n + s[0].length, 0);
  const round1 = (v) => Math.round(v * 10) / 10;

  function resizeCanvas() {
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = canvas.getBoundingClientRect();
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0); // draw in CSS pixels, crisp
    redraw();
  }

  // A new pixel ratio (zoom, another screen) needs a new backing store.
  function watchPixelRatio() {
    matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener(
      "change",
      () => {
        resizeCanvas();
        watchPixelRatio();
      },
      { once: true },
    );
  }

  function stylePen() {
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = LINE_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  function drawSegment(stroke, from) {
    const [xs, ys] = stroke;
    stylePen();
    if (xs.length === 1) {
      ctx.beginPath();
      ctx.arc(xs[0], ys[0], LINE_WIDTH / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(xs[Math.max(from - 1, 0)], ys[Math.max(from - 1, 0)]);
    for (let i = Math.max(from, 1); i < xs.length; i++) ctx.lineTo(xs[i], ys[i]);
    ctx.stroke();
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const stroke of strokes) drawSegment(stroke, 0);
  }

  function addPoint(stroke, event) {
    const rect = canvas.getBoundingClientRect();
    const x = round1(event.clientX - rect.left);
    const y = round1(event.clientY - rect.top);
    const [xs, ys, ts] = stroke;
    const last = xs.length - 1;
    if (last >= 0 && xs[last] === x && ys[last] === y) return false;
    xs.push(x);
    ys.push(y);
    ts.push(Math.round(event.timeStamp - startTime));
    return true;
  }

  function onPointerDown(event) {
    if (locked || pointer !== null || (event.pointerType === "mouse" && event.button !== 0)) {
      return;
    }
    event.preventDefault();
    pointer = event.pointerId;
    canvas.setPointerCapture(pointer);
    if (startTime === null) startTime = event.timeStamp;
    const stroke = [[], [], []];
    strokes.push(stroke);
    addPoint(stroke, event);
    drawSegment(stroke, 0);
    changed(false);
  }

  function onPointerMove(event) {
    if (event.pointerId !== pointer) return;
    const stroke = strokes[strokes.length - 1];
    const from = stroke[0].length;
    // Coalesced events keep every point of a fast pen, not one per frame.
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    let added = false;
    for (const e of events.length ? events : [event]) added = addPoint(stroke, e) || added;
    if (!added) return;
    drawSegment(stroke, from);
    changed(false);
  }

  function onPointerUp(event) {
    if (event.pointerId !== pointer) return;
    pointer = null;
    changed(true); // one request at each stroke end
  }

  function undo() {
    if (!strokes.length) return;
    pointer = null;
    strokes.pop();
    generation++;
    redraw();
    changed(true);
  }

  function clear() {
    if (!strokes.length) return;
    pointer = null;
    strokes.length = 0;
    startTime = null;
    generation++;
    redraw();
    changed(true);
  }

  // ------------------------------------------------------------- requests
  let maxK = null; // the model's k, from the metadata
  let dirty = false; // the drawing changed since the last request was sent
  let inFlight = false;
  let lastSent = -Infinity;
  let timer = null;

  function changed(now) {
    const n = strokes.length;
    $("undo").disabled = $("clear").disabled = n === 0;
    $("hint").hidden = n > 0;
    $("tally").textContent = `${n} stroke${n === 1 ? "" : "s"} · ${pointCount()} points`;
    dirty = true;
    schedule(now);
  }

  function schedule(now) {
    if (inFlight) return; // sent when the answer comes back
    const wait = now ? 0 : Math.max(0, lastSent + THROTTLE_MS - performance.now());
    if (timer !== null) {
      if (!now) return;
      clearTimeout(timer);
    }
    timer = setTimeout(send, wait);
  }

  async function send() {
    timer = null;
    if (!dirty || inFlight) return;
    dirty = false;
    const state = { generation, strokes: strokes.length, points: pointCount(), engine };
    if (state.points < 2) {
      showGuesses(state, [], []); // nothing to guess from yet
      return;
    }
    inFlight = true;
    lastSent = performance.now();
    try {
      const answer = await (engine === "tab" ? askTab() : askServer());
      if (state.generation !== generation) return; // undone or cleared since
      if (answer.error) {
        showGuesses(state, [], []);
        showError(answer.error);
        return;
      }
      const { classes, probabilities } = answer;
      showGuesses(state, classes.slice(0, SHOWN_GUESSES), probabilities);
      for (const listener of listeners) listener(state, classes, probabilities);
    } catch (err) {
      if (state.generation === generation) showError(err.message);
    } finally {
      inFlight = false;
      if (dirty) schedule(false);
    }
  }

  // The server's {classes, probabilities}, or {error}.
  async function askServer() {
    const body = { instances: [{ drawing: strokes }] };
    // Until the metadata says the model's k, the server's default k is asked.
    // All k: the game's threshold applies to every class the model shows.
    if (maxK !== null) body.parameters = { k: maxK };
    let response;
    try {
      response = await fetch(PREDICT_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body), // now, before the drawing changes
      });
    } catch (err) {
      throw new Error(`cannot reach the server (${err.message})`);
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || !answer.predictions) {
      return { error: answer.error || `the server answered ${response.status} ${response.statusText}` };
    }
    return answer.predictions[0];
  }

  // The model in this tab: the same answer, no request.
  async function askTab() {
    const drawing = strokes.map(([xs, ys]) => [xs.slice(), ys.slice()]); // now
    try {
      if (!tab) await loadTab();
      return await tab.predict(drawing, maxK ?? 1);
    } catch (err) {
      return { error: err.message };
    }
  }

  // ---------------------------------------------------------------- engines
  function showEngine() {
    $("engine-server").setAttribute("aria-pressed", String(engine === "server"));
    $("engine-tab").setAttribute("aria-pressed", String(engine === "tab"));
    document.body.dataset.engine = engine;
  }

  // Imports ondevice.js and loads the runtime and the model (once).
  async function loadTab() {
    $("engine-status").textContent = "loading the model into this tab…";
    try {
      tab ??= await import("./ondevice.js");
      const meta = await tab.load();
      $("engine-status").textContent = `LiteRT.js · ${meta.file}`;
      return meta;
    } catch (err) {
      $("engine-status").textContent = "";
      throw new Error(`the model cannot run in this tab (${err.message})`);
    }
  }

  async function setEngine(wanted) {
    if (wanted === engine && (wanted === "server" || tab)) return;
    const url = new URL(location.href);
    if (wanted === "tab") {
      try {
        await loadTab();
      } catch (err) {
        showError(err.message);
        return;
      }
      url.searchParams.set("engine", "tab");
    } else {
      url.searchParams.delete("engine");
      $("engine-status").textContent = "";
    }
    engine = wanted;
    history.replaceState(null, "", url);
    showEngine();
    dirty = true; // the drawing so far, asked where the model now runs
    schedule(true);
  }

  // ---------------------------------------------------------------- views
  const percent = (p) => `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%`;

  function showGuesses(state, classes, probabilities) {
    errorBox.hidden = true;
    guessList.replaceChildren(
      ...classes.map((name, i) => {
        const item = document.createElement("li");
        item.dataset.class = name;
        item.dataset.probability = probabilities[i];
        item.innerHTML =
          '<span class="name"></span><span class="bar"><span></span></span><span class="p"></span>';
        item.querySelector(".name").textContent = name;
        item.querySelector(".bar > span").style.width = percent(probabilities[i]);
        item.querySelector(".p").textContent = percent(probabilities[i]);
        return item;
      }),
    );
    guessList.dataset.strokes = state.strokes;
    guessList.dataset.points = state.points;
    guessList.dataset.engine = state.engine;
    showVerdict(classes[0], probabilities[0]);
    highlight(classes);
  }

  function showVerdict(top, p) {
    if (top === undefined) {
      verdict.textContent = "Draw something and I will guess what it is.";
      verdict.classList.remove("has-guess");
      return;
    }
    const confident = p >= CONFIDENT;
    const name = document.createElement("strong");
    name.textContent = top;
    verdict.replaceChildren(confident ? "I see … " : "Maybe … ", name, confident ? "!" : "?");
    verdict.classList.add("has-guess");
  }

  function showError(message) {
    errorBox.textContent = `Sorry, no guess this time: ${message}`;
    errorBox.hidden = false;
  }

  // -------------------------------------------------------------- classes
  function highlight(guessed) {
    for (const item of classList.children) {
      item.classList.toggle("guessed", guessed.includes(item.dataset.class));
      item.classList.toggle("top", item.dataset.class === guessed[0]);
    }
  }

  function filterClasses() {
    const query = search.value.trim().toLowerCase();
    let shown = 0;
    for (const item of classList.children) {
      const match = item.dataset.class.toLowerCase().includes(query);
      item.hidden = !match;
      shown += match;
    }
    const total = classList.children.length;
    $("class-count").textContent = query ? `${shown} of ${total} match` : `${total} classes`;
    $("no-match").hidden = shown > 0;
  }

  // The model's classes, k and threshold: from the server, or model.json.
  async function fetchMetadata() {
    if (engine === "tab") return loadTab();
    const response = await fetch(METADATA_URL);
    const meta = await response.json();
    if (!response.ok) throw new Error(meta.error || `${response.status} ${response.statusText}`);
    return meta;
  }

  async function loadMetadata() {
    try {
      const meta = await fetchMetadata();
      metadataLoaded(meta);
      if (meta.ondevice === false) {
        $("engine-tab").disabled = true;
        $("engine-tab").title = "This server has no on-device model or no runtime for it";
      }
      const classes = meta.classes;
      maxK = meta.k;
      classList.replaceChildren(
        ...classes.map((name) => {
          const item = document.createElement("li");
          item.dataset.class = name;
          item.textContent = name;
          return item;
        }),
      );
      const spec = meta.model_spec || {};
      const version = spec.version ? ` v${spec.version}` : "";
      const where = engine === "tab" ? "on-device model in this tab" : `model ${spec.name || MODEL}${version}`;
      $("model-info").textContent = `${where} · ${classes.length} classes · top ${maxK}`;
      highlight([...guessList.children].map((item) => item.dataset.class));
      filterClasses();
    } catch (err) {
      metadataFailed(err);
      $("class-count").textContent = "unavailable";
      $("no-match").textContent = `Sorry, the model's classes did not load (${err.message}).`;
      $("no-match").hidden = false;
    }
  }

  // ------------------------------------------------------ for the game
  const listeners = [];
  let metadataLoaded, metadataFailed;
  window.quickdraw = {
    metadata: new Promise((resolve, reject) => {
      metadataLoaded = resolve;
      metadataFailed = reject;
    }),
    onAnswer: (listener) => listeners.push(listener), // (state, classes, probabilities)
    generation: () => generation,
    strokes: () => strokes.map(([xs, ys]) => [xs.slice(), ys.slice()]),
    clear,
    lock(value) {
      locked = value;
      if (locked) pointer = null;
    },
  };

  // ----------------------------------------------------------------- wiring
  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  canvas.addEventListener("lostpointercapture", onPointerUp);
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
  $("engine-server").addEventListener("click", () => setEngine("server"));
  $("engine-tab").addEventListener("click", () => setEngine("tab"));
  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", clear);
  search.addEventListener("input", filterClasses);
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement) return; // its own undo and Esc
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (event.key === "Escape") {
      clear();
    }
  });
  new ResizeObserver(resizeCanvas).observe(canvas);
  watchPixelRatio();
  if (staticSite) {
    $("engine-server").hidden = $("engine-tab").hidden = true;
    $("engines-label").textContent = "The model runs in this tab, no server:";
  }
  showEngine();
  loadMetadata();
})();
