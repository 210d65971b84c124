// The game mode of the drawing page: Quick, Draw! on your own model.
//
// Six rounds, each asking for one of the model's classes. A round is won the
// moment the asked class comes back with a probability at or above the
// recognition threshold that the trainer chose on the eval set (the
// metadata's `threshold`; without one, when it is the top guess), and lost
// when the timer runs out. The end shows the six drawings, each verdict and
// the model's best guess. It rides on app.js (`window.quickdraw`): the same
// canvas, requests and answers.
//
// URL parameters: `play` opens the game, `seconds=N` sets the timer (tests
// use a short one), `classes=a,b,...` fixes the rounds' classes (in order,
// repeated up to six). `#game` carries `data-state` (ready, drawing, won,
// lost, over), `data-round` and `data-won-points`, so tests wait on the page.
"use strict";

(() => {
  const ROUNDS = 6;
  const SECONDS = 20;
  const TICK_MS = 100;
  const SAID = 3; // guesses said at most
  const SAID_MIN = 0.1; // below this, a guess is not worth saying (the top is)

  const $ = (id) => document.getElementById(id);
  const app = window.quickdraw;
  const params = new URLSearchParams(location.search);
  const seconds = Math.max(0.5, Number(params.get("seconds")) || SECONDS);
  const game = $("game");

  let classes = [];
  let threshold = null;
  let plan = []; // the rounds' classes
  let results = []; // {asked, won, seconds, drawing, best}
  let round = 0; // 0-based
  let generation = null; // the app's drawing generation of this round
  let started = 0;
  let ticker = null;
  let last = null; // the latest answer of this round

  function setState(state) {
    game.dataset.state = state;
    game.dataset.round = Math.min(round + 1, ROUNDS);
    app.lock(state !== "drawing");
  }

  function pick() {
    const fixed = (params.get("classes") || "").split(",").filter((c) => classes.includes(c));
    const pool = fixed.length ? fixed : shuffled(classes);
    return Array.from({ length: ROUNDS }, (_, i) => pool[i % pool.length]);
  }

  function shuffled(items) {
    const copy = items.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }

  // ---------------------------------------------------------------- rounds
  function start() {
    plan = pick();
    results = [];
    round = 0;
    document.body.classList.remove("game-over");
    ready();
  }

  function ready() {
    app.clear();
    $("game-round").textContent = `Round ${round + 1} of ${ROUNDS}`;
    $("game-class").textContent = plan[round];
    $("game-clock").textContent = `${seconds.toFixed(0)} s`;
    $("game-clock-bar").style.width = "100%";
    $("game-says").textContent = `Draw it in under ${seconds.toFixed(0)} seconds.`;
    $("game-go").textContent = "Got it!";
    $("game-go").hidden = false;
    game.dataset.wonPoints = "";
    setState("ready");
    $("game-go").focus();
  }

  function go() {
    if (game.dataset.state === "ready") return begin();
    if (game.dataset.state === "won" || game.dataset.state === "lost") {
      round += 1;
      return round < ROUNDS ? ready() : summary();
    }
  }

  function begin() {
    app.clear();
    generation = app.generation();
    last = null;
    started = performance.now();
    $("game-go").hidden = true;
    $("game-says").textContent = "…";
    setState("drawing");
    ticker = setInterval(tick, TICK_MS);
  }

  function tick() {
    const left = Math.max(0, seconds - (performance.now() - started) / 1000);
    $("game-clock").textContent = `${Math.ceil(left)} s`;
    $("game-clock-bar").style.width = `${(100 * left) / seconds}%`;
    if (left <= 0) end(false);
  }

  function onAnswer(state, names, probabilities) {
    if (game.dataset.state !== "drawing" || state.generation !== generation) return;
    last = { names, probabilities };
    const asked = plan[round];
    const i = names.indexOf(asked);
    const passed = threshold === null ? i === 0 : i >= 0 && probabilities[i] >= threshold;
    if (passed) {
      game.dataset.wonPoints = state.points;
      end(true);
      return;
    }
    const said = names.filter((_, j) => j === 0 || (j < SAID && probabilities[j] >= SAID_MIN));
    $("game-says").textContent = `I see … ${said.join(", or ")}`;
  }

  function end(won) {
    clearInterval(ticker);
    const asked = plan[round];
    const time = (performance.now() - started) / 1000;
    results.push({
      asked,
      won,
      seconds: time,
      drawing: app.strokes(),
      best: last ? [last.names[0], last.probabilities[0]] : null,
    });
    $("game-says").textContent = won
      ? `Oh, I know: it's ${asked}! (${time.toFixed(1)} s)`
      : `Time's up. I couldn't guess ${asked}.`;
    $("game-go").textContent = round + 1 < ROUNDS ? "Next round" : "See the results";
    $("game-go").hidden = false;
    setState(won ? "won" : "lost");
    $("game-go").focus();
  }

  // --------------------------------------------------------------- summary
  function summary() {
    const won = results.filter((r) => r.won).length;
    $("summary-score").textContent = `The model recognized ${won} of your ${ROUNDS} drawings.`;
    $("summary-rounds").replaceChildren(...results.map(card));
    document.body.classList.add("game-over");
    setState("over");
    $("game-again").focus();
  }

  function card(result) {
    const item = document.createElement("li");
    item.dataset.verdict = result.won ? "won" : "lost";
    item.dataset.asked = result.asked;
    const sketch = document.createElement("canvas");
    sketch.width = sketch.height = 160;
    drawSmall(sketch, result.drawing);
    const title = document.createElement("strong");
    title.textContent = result.asked;
    const verdict = document.createElement("span");
    verdict.className = "verdict-tag";
    verdict.textContent = result.won ? `✓ in ${result.seconds.toFixed(1)} s` : "✗ time's up";
    const best = document.createElement("span");
    best.className = "best";
    best.textContent = result.best
      ? `best guess: ${result.best[0]} (${Math.round(100 * result.best[1])}%)`
      : "best guess: none (no drawing)";
    item.append(sketch, title, verdict, best);
    return item;
  }

  function drawSmall(sketch, strokes) {
    const ctx = sketch.getContext("2d");
    const xs = strokes.flatMap((s) => s[0]);
    const ys = strokes.flatMap((s) => s[1]);
    if (!xs.length) return;
    const [x0, y0] = [Math.min(...xs), Math.min(...ys)];
    const span = Math.max(Math.max(...xs) - x0, Math.max(...ys) - y0, 1);
    const scale = (sketch.width - 24) / span;
    ctx.strokeStyle = "#1f2328";
    ctx.lineWidth = 3;
    ctx.lineCap = ctx.lineJoin = "round";
    for (const [sx, sy] of strokes) {
      ctx.beginPath();
      sx.forEach((x, i) => {
        const [px, py] = [12 + (x - x0) * scale, 12 + (sy[i] - y0) * scale];
        i ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
      });
      if (sx.length === 1) ctx.lineTo(12 + (sx[0] - x0) * scale + 0.1, 12 + (sy[0] - y0) * scale);
      ctx.stroke();
    }
  }

  // ------------------------------------------------------------------ modes
  function setMode(playing) {
    document.body.classList.toggle("playing", playing);
    document.body.classList.remove("game-over");
    $("mode-free").setAttribute("aria-pressed", String(!playing));
    $("mode-game").setAttribute("aria-pressed", String(playing));
    game.hidden = !playing;
    clearInterval(ticker);
    if (playing) {
      start();
    } else {
      game.dataset.state = "";
      app.lock(false);
      app.clear();
    }
  }

  app.onAnswer(onAnswer);
  $("game-go").addEventListener("click", go);
  $("game-again").addEventListener("click", () => setMode(true));
  $("mode-free").addEventListener("click", () => setMode(false));
  $("mode-game").addEventListener("click", () => setMode(true));
  app.metadata
    .then((meta) => {
      classes = meta.classes;
      threshold = typeof meta.threshold === "number" ? meta.threshold : null;
      $("game-rule").textContent =
        threshold === null
          ? "This model has no recognition threshold: a drawing wins when it is the top guess."
          : `A drawing wins the moment its class reaches ${Math.round(100 * threshold)}%.`;
      $("mode-game").disabled = false;
      if (params.has("play")) setMode(true);
    })
    .catch(() => {}); // app.js shows that the metadata did not load
})();
