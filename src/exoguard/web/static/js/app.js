// exoguard — shared browser helpers (ES module, no build step, no remote code).
// api(): fetch() with the CSRF double-submit header; toast(): aria-live notifications;
// pollJob(): follows GET /api/jobs/{id}; plot()/loadCharts(): Plotly figures from JSON.

const CSRF_COOKIE = "exoguard_csrf";
const CSRF_HEADER = "X-CSRF-Token";

export function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export class ApiError extends Error {
  constructor(status, detail, payload) {
    super(detail);
    this.status = status;
    this.payload = payload;
  }
}

function detailOf(payload, status) {
  if (!payload) return `request failed (HTTP ${status})`;
  const d = payload.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) {
    // FastAPI request-validation errors: [{loc, msg}, ...]
    return d.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".")}: ${e.msg}`).join("; ");
  }
  return `request failed (HTTP ${status})`;
}

/** fetch() a JSON API route. `json` is sent as a JSON body, `body` (FormData) as is. */
export async function api(path, { method = "GET", json, body, headers = {}, raw = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") {
    const token = readCookie(CSRF_COOKIE);
    if (token) init.headers[CSRF_HEADER] = token;
  }
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "the server cannot be reached; check your connection", null);
  }
  if (raw && response.ok) return response;
  const type = response.headers.get("Content-Type") || "";
  const payload = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    let message = detailOf(payload, response.status);
    if (response.status === 429) {
      const retry = response.headers.get("Retry-After");
      if (retry && !message.includes("retry")) message += ` (retry in ${retry} s)`;
    }
    throw new ApiError(response.status, message, payload);
  }
  return payload;
}

/** Most toasts shown at once; the oldest goes first. */
const MAX_TOASTS = 3;

/** Show a notification; screen readers announce it through the aria-live region. The same
 * text again (same kind) does not stack: the toast already shown counts it ("×3") and its
 * timer starts over. */
export function toast(message, kind = "info", { timeoutMs = 7000 } = {}) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const lifeMs = kind === "error" ? timeoutMs * 2 : timeoutMs;
  const same = Array.from(region.children).find(
    (el) => el.dataset.kind === kind && el.dataset.message === message,
  );
  if (same) {
    const count = Number(same.dataset.count || "1") + 1;
    same.dataset.count = String(count);
    same.querySelector(".count").textContent = `×${count}`;
    clearTimeout(Number(same.dataset.timer));
    if (timeoutMs > 0) same.dataset.timer = String(setTimeout(() => same.remove(), lifeMs));
    region.append(same); // the newest at the end
    return same;
  }
  const item = document.createElement("div");
  item.className = `toast ${kind}`;
  item.dataset.kind = kind;
  item.dataset.message = message;
  item.dataset.count = "1";
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  const text = document.createElement("div");
  text.className = "msg";
  text.textContent = message;
  const count = document.createElement("span");
  count.className = "count";
  const close = document.createElement("button");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss notification");
  close.textContent = "×";
  close.addEventListener("click", () => item.remove());
  item.append(text, count, close);
  region.append(item);
  while (region.children.length > MAX_TOASTS) region.firstElementChild.remove();
  if (timeoutMs > 0) item.dataset.timer = String(setTimeout(() => item.remove(), lifeMs));
  return item;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll a job until it succeeds or fails; `onUpdate(job)` on every answer. */
export async function pollJob(jobId, onUpdate = () => {}, { intervalMs = 500, timeoutMs = 15 * 60 * 1000 } = {}) {
  const started = Date.now();
  for (;;) {
    const job = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
    onUpdate(job);
    if (job.status === "succeeded") return job;
    if (job.status === "failed") throw new ApiError(500, job.error || "the job failed", job);
    if (Date.now() - started > timeoutMs) throw new ApiError(504, "the job is taking too long; check back later", job);
    await sleep(intervalMs);
  }
}

const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "sendDataToCloud"],
  toImageButtonOptions: { format: "png", scale: 2 },
};

// Plotly is fetched only on pages with a chart, never on the others. Chart pages name it in a
// deferred <script data-plotly> (_charts_head.html), which has run (or failed) before any
// module runs; other pages load it on demand from the content-named URL in the
// <meta name="exoguard-plotly"> of every page (the server answers with the partial bundle,
// package.json, or without it the full one). Either way it is evaluated once per page.
let plotlyLoading = null;

function plotlyUrl() {
  const meta = document.querySelector('meta[name="exoguard-plotly"]');
  return meta ? meta.content : "/static/vendor/plotly.min.js";
}

/** Load the chart library once; resolves to window.Plotly (or null when it cannot load). */
export function ensurePlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve) => {
      // A deferred tag without window.Plotly failed to load: try once more, on demand.
      const script = document.createElement("script");
      script.src = plotlyUrl();
      script.async = true;
      script.onload = () => resolve(window.Plotly || null);
      script.onerror = () => { plotlyLoading = null; resolve(null); };
      document.head.appendChild(script);
    });
  }
  return plotlyLoading;
}

/** Let the browser paint what is drawn so far before the next chart (one chart per task). */
function nextTask() {
  if (window.scheduler && typeof window.scheduler.yield === "function") return window.scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The figure's layout, sized by its box, with axes that draw in one pass. Plotly measures
 * every tick label to hide those past the chart's edge, to decide whether x labels must turn
 * (tickangle "auto"), and automargin draws a chart twice when its labels push the margins:
 * together about a third of a light-curve chart's drawing time. Numeric tick labels fit the
 * fixed margins and sit level, so a chart of scatter traces only skips all three; bar and
 * heatmap charts keep automargin for their long category labels. */
function fastAxes(figure) {
  const layout = { ...figure.layout, autosize: true };
  delete layout.width;
  const scatterOnly = figure.data.every((trace) => (trace.type || "scatter") === "scatter");
  for (const key of Object.keys(layout)) {
    if (!/^[xy]axis\d*$/.test(key)) continue;
    const axis = { ticklabeloverflow: "allow", ...layout[key] };
    if (scatterOnly) {
      axis.automargin = false;
      if (axis.tickangle === undefined) axis.tickangle = 0;
    }
    layout[key] = axis;
  }
  return layout;
}

/** Draw a figure {data, layout} into `el`; returns a promise. */
export async function plot(el, figure) {
  const Plotly = await ensurePlotly();
  if (!Plotly) {
    el.textContent = "The chart library did not load.";
    return;
  }
  el.classList.remove("chart-empty");
  el.replaceChildren();
  const layout = fastAxes(figure);
  // On a phone the tool bar would sit on the title; pinch-zoom and tap still work.
  const narrow = window.matchMedia("(max-width: 759px)").matches;
  const config = { ...PLOT_CONFIG, displayModeBar: narrow ? false : "hover" };
  el.setAttribute("data-plotted", "true");
  return Plotly.newPlot(el, figure.data, layout, config);
}

/** Render into every `[data-chart=NAME]` below `root` the figure NAME of `figures`: the
 * reasons first, then the charts in page order, those on the first screen one per task (each
 * paints while the next is drawn); resolves when all are drawn. Measured on a candidate page
 * (Chromium, 8 charts): one task per chart put the last chart ~0.15 s later than one task for
 * all, this ~0.07 s, with the first screen's charts shown before the others are drawn. */
export async function drawFigures(root, figures) {
  const todo = [];
  for (const el of root.querySelectorAll("[data-chart]")) {
    const name = el.dataset.chart;
    const fig = figures[name];
    if (fig) {
      todo.push([el, fig]);
    } else if (figures.missing && figures.missing[name]) {
      el.classList.add("chart-empty");
      el.textContent = figures.missing[name];
    }
  }
  if (!todo.length) return;
  if (!(await ensurePlotly())) {
    for (const [el] of todo) el.textContent = "The chart library did not load.";
    return;
  }
  // The charts on the first screen first, one task each (they paint at once); the rest,
  // out of sight below, in one task after them (one more paint instead of one per chart).
  const onScreen = (el) => el.getBoundingClientRect().top < window.innerHeight;
  const first = todo.filter(([el]) => onScreen(el));
  const rest = todo.filter(([el]) => !onScreen(el));
  for (const [i, [el, fig]] of first.entries()) {
    if (i > 0) await nextTask();
    await plot(el, fig);
  }
  if (first.length && rest.length) await nextTask();
  for (const [el, fig] of rest) await plot(el, fig);
}

/** Fetch `{figures: {...}, missing: {...}}` from a charts URL and draw them. */
export async function loadCharts(root, url) {
  for (const el of root.querySelectorAll("[data-chart]")) {
    if (!el.dataset.plotted) el.innerHTML = '<p class="loading">Loading chart…</p>';
  }
  // The chart library downloads and runs its start-up script (the larger part of a chart
  // page's CPU time) while the server computes the figures, not after them.
  if (root.querySelector("[data-chart]")) ensurePlotly();
  try {
    // Usually fetched already: the page's <link rel="preload" as="fetch"> (same URL, request
    // mode and credentials) started it while the HTML was parsed.
    const payload = await api(url);
    await drawFigures(root, { ...payload.figures, missing: payload.missing || {} });
    return payload;
  } catch (err) {
    for (const el of root.querySelectorAll("[data-chart]")) {
      if (!el.dataset.plotted) {
        el.classList.add("chart-empty");
        el.textContent = `Chart unavailable: ${err.message}`;
      }
    }
    throw err;
  }
}

export function formatProbability(p, u) {
  if (p === null || p === undefined) return "—";
  const pct = (100 * p).toFixed(1);
  return u === null || u === undefined ? `${pct}%` : `${pct}% ± ${(100 * u).toFixed(1)}%`;
}

/** Which predictions the vetting queue takes: read from data-threshold / data-band of `el`. */
export function policyFrom(el) {
  const threshold = el.dataset.threshold === "" ? null : parseFloat(el.dataset.threshold);
  const band = el.dataset.band ? el.dataset.band.split(",").map(Number) : null;
  return { threshold, band };
}

/** The verdict in plain words, by the same rule as the server (pages/_common.verdict_of). */
export function verdictOf(prediction, policy) {
  const { threshold, band } = policy;
  const p = prediction.probability;
  const uncertain = prediction.label === "candidate"
    || (threshold !== null && prediction.uncertainty > threshold)
    || (band !== null && p >= band[0] && p <= band[1]);
  if (uncertain) return { key: "uncertain", words: "uncertain — sent to human vetters" };
  if (prediction.label === "planet") return { key: "planet", words: "likely a planet" };
  return { key: "false_positive", words: "likely a false positive" };
}

/** Save a Blob as a download with `filename`. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function filenameFrom(response, fallback) {
  const cd = response.headers.get("Content-Disposition") || "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  return m ? decodeURIComponent(m[1]) : fallback;
}

function wireLogout() {
  const button = document.getElementById("logout-button");
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      await api("/api/auth/logout", { method: "POST" });
    } catch (err) {
      // Logging out must always work from the user's point of view.
    }
    window.location.assign("/");
  });
}

function showFlash() {
  const params = new URLSearchParams(window.location.search);
  const flash = params.get("flash");
  if (!flash) return;
  toast(flash, "success");
  // Once shown, drop it from the address so a reload or a bookmark does not repeat it.
  params.delete("flash");
  const query = params.toString();
  window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : "") + window.location.hash);
}

wireLogout();
showFlash();
