// Explorer mode: upload a light curve (checked here before it is sent) or enter a candidate's
// parameters; show the verdict, the light curve with the transits marked and the folded views.
import {
  api, toast, pollJob, loadCharts, formatProbability, verdictOf, policyFrom, saveBlob, filenameFrom,
} from "./app.js";

export const ALLOWED_EXTENSIONS = [".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".csv", ".json"];

/** Why `file` cannot be sent (null when it can): wrong type, empty, or over `maxMb`. */
export function checkFile(file, maxMb) {
  if (!file) return "Choose a file first.";
  const name = file.name.toLowerCase();
  if (!ALLOWED_EXTENSIONS.some((ext) => name.endsWith(ext))) {
    return `“${file.name}” is not a light-curve file we read. Allowed: ${ALLOWED_EXTENSIONS.join(", ")}.`;
  }
  if (file.size === 0) return `“${file.name}” is empty.`;
  const limit = maxMb * 1024 * 1024;
  if (file.size > limit) {
    return `“${file.name}” is ${(file.size / 1048576).toFixed(1)} MB; the limit is ${maxMb} MB.`;
  }
  return null;
}

/** Why `files` cannot be sent together (null when they can): each is checked, then their
 * number and their total size. */
export function checkFiles(files, maxMb, maxFiles) {
  const list = Array.from(files || []);
  if (!list.length) return "Choose a file first.";
  if (list.length > maxFiles) return `At most ${maxFiles} files at once; you chose ${list.length}.`;
  for (const file of list) {
    const problem = checkFile(file, maxMb);
    if (problem) return problem;
  }
  const total = list.reduce((sum, f) => sum + f.size, 0);
  if (list.length > 1 && total > maxMb * 1024 * 1024) {
    return `The ${list.length} files hold ${(total / 1048576).toFixed(1)} MB together; the limit is ${maxMb} MB.`;
  }
  return null;
}

/** The sentence of a catalog cross-match (null when there is none to show). */
export function catalogSentence(match) {
  if (!match) return null;
  return match.summary || null;
}

const $ = (id) => document.getElementById(id);
const results = $("results");
const policy = policyFrom(results);
let lastCandidateIds = [];
let currentDataset = null;

async function showCharts(datasetId, candidateId) {
  const url = `/charts/datasets/${encodeURIComponent(datasetId)}` + (candidateId ? `?candidate_id=${candidateId}` : "");
  for (const el of results.querySelectorAll("[data-chart]")) delete el.dataset.plotted;
  try {
    // loadCharts starts the chart library (app.js ensurePlotly) while the figures are fetched
    await loadCharts(results, url);
  } catch (err) {
    toast(`Charts could not be drawn: ${err.message}`, "warning");
  }
}

// ---------------------------------------------------------------- tabs (WAI-ARIA pattern)
const tabs = [$("tab-upload"), $("tab-manual")];
function selectTab(tab) {
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !selected;
  }
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(tab);
    let next = null;
    if (e.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
    if (e.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
    if (e.key === "Home") next = tabs[0];
    if (e.key === "End") next = tabs[tabs.length - 1];
    if (next) {
      e.preventDefault();
      selectTab(next);
      next.focus();
    }
  });
}

// ------------------------------------------------------------------------------ progress
function showProgress(fraction, message) {
  $("progress-panel").hidden = false;
  const bar = $("work-progress");
  if (fraction === null) bar.removeAttribute("value");
  else bar.value = Math.max(0, Math.min(1, fraction));
  $("work-status").textContent = message;
}
function hideProgress() {
  $("progress-panel").hidden = true;
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", String(on));
}
// True while `button`'s request is in flight: a second submit (click, Enter) is ignored.
function inFlight(button) {
  return button.getAttribute("aria-busy") === "true";
}

// One Idempotency-Key per distinct request body: submitting the same typed-in candidate
// again (a double click, a click after the answer) gets the first answer back from the
// server, and no second stored candidate. A changed field makes a new key.
const requestKeys = new Map();
function idempotencyKey(body) {
  const text = JSON.stringify(body);
  if (!requestKeys.has(text)) {
    // getRandomValues, unlike randomUUID, also exists on plain http:// outside localhost
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    requestKeys.set(text, Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""));
  }
  return requestKeys.get(text);
}

// ------------------------------------------------------------------------------ verdicts
function describe(candidate) {
  const bits = [];
  if (candidate.period_days) bits.push(`period ${Number(candidate.period_days).toFixed(4)} d`);
  if (candidate.depth_ppm) bits.push(`depth ${Math.round(candidate.depth_ppm).toLocaleString()} ppm`);
  if (candidate.duration_hours) bits.push(`duration ${Number(candidate.duration_hours).toFixed(2)} h`);
  return bits.join(" · ");
}

// The server words the basis (exoguard.ml.missing.basis_sentences).
function basisSentences(basis) {
  return basis && Array.isArray(basis.summary) ? basis.summary : [];
}

// A row of the server's result (web/services/upload_results.py) carries its verdict;
// an unsaved typed-in prediction is worded here by the same rule.
function verdictFor(prediction) {
  if (prediction.verdict) return { key: prediction.verdict, words: prediction.verdict_words };
  return verdictOf(prediction, policy);
}

function verdictCard(prediction, candidate) {
  const v = verdictFor(prediction);
  const card = document.createElement("article");
  card.className = `verdict ${v.key}`;
  card.dataset.candidateId = prediction.candidate_id ?? "";
  const title = document.createElement("p");
  title.className = "words";
  title.textContent = v.words.charAt(0).toUpperCase() + v.words.slice(1);
  const name = document.createElement("p");
  name.className = "small";
  // The server names every stored candidate (exoguard.store.naming); never a stored key.
  const label = candidate?.name || "your candidate";
  name.textContent = [label, candidate ? describe(candidate) : ""].filter(Boolean).join(" — ");
  const prob = document.createElement("p");
  prob.className = "small probability";
  prob.innerHTML = "Planet probability <strong></strong>";
  prob.querySelector("strong").textContent = formatProbability(prediction.probability, prediction.uncertainty);
  const bar = document.createElement("div");
  bar.className = "prob-bar";
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", `Planet probability ${formatProbability(prediction.probability, prediction.uncertainty)}`);
  const fill = document.createElement("div");
  fill.className = "fill";
  fill.style.width = `${(100 * prediction.probability).toFixed(1)}%`;
  const err = document.createElement("div");
  err.className = "err";
  const lo = Math.max(0, prediction.probability - prediction.uncertainty);
  const hi = Math.min(1, prediction.probability + prediction.uncertainty);
  err.style.left = `${(100 * lo).toFixed(1)}%`;
  err.style.width = `${(100 * (hi - lo)).toFixed(1)}%`;
  bar.append(fill, err);
  card.append(title, name);
  if (prediction.probability !== null && prediction.probability !== undefined) card.append(prob, bar);
  const match = prediction.catalog_match || candidate?.catalog_match;
  const sentence = catalogSentence(match);
  if (sentence) {
    const line = document.createElement("p");
    line.className = match.matched ? "small catalog-match" : "small catalog-match muted";
    line.textContent = sentence;
    card.append(line);
  }
  const stellar = prediction.stellar_parameters || candidate?.stellar_parameters;
  if (stellar && stellar.from_catalog && stellar.from_catalog.length) {
    const line = document.createElement("p");
    line.className = "small muted stellar-source";
    line.textContent = `Stellar parameters from ${stellar.host_id} (${stellar.catalog}).`;
    card.append(line);
  }
  const basis = basisSentences(prediction.basis);
  for (const text of basis) {
    const line = document.createElement("p");
    line.className = "small muted basis";
    line.textContent = text;
    card.append(line);
  }
  if (v.key === "uncertain") {
    const note = document.createElement("p");
    note.className = "small";
    note.textContent = "The model is not sure. People in the vetting queue will look at it; their consensus updates the label.";
    card.append(note);
  }
  if (prediction.candidate_id && currentDataset && candidate && candidate.period_days) {
    const fold = document.createElement("button");
    fold.type = "button";
    fold.className = "btn small secondary fold-on";
    fold.textContent = "Fold the light curve on this signal";
    fold.addEventListener("click", () => showCharts(currentDataset, prediction.candidate_id));
    card.append(fold, document.createTextNode(" "));
  }
  if (prediction.candidate_id) {
    const link = document.createElement("a");
    link.href = `/candidates/${prediction.candidate_id}`;
    link.textContent = "Details, diagnostics and explanation";
    link.className = "small";
    card.append(link);
  }
  return card;
}

// A lone dip: the search saw one transit-like event but a period needs two.
function singleEventText(event) {
  const when = Number(event.t_mid_bjd).toFixed(3);
  const hours = Number(event.duration_hours).toFixed(1);
  const depth = Math.round(Number(event.depth_ppm)).toLocaleString("en-US");
  return `One transit-like event found; a period needs at least two. The dip is at BJD ${when}, `
    + `about ${hours} h long and ${depth} ppm deep (signal-to-noise ${Number(event.snr).toFixed(1)}). `
    + "A longer light curve (more quarters or sectors of this star) may show it again.";
}

async function showResults(predictions, candidatesById, { datasetId = null, singleEvent = null } = {}) {
  const box = $("verdicts");
  box.replaceChildren();
  $("catalog-result").hidden = true;
  $("download-pdf").textContent = "Download the PDF report";
  $("download-csv").textContent = "Download CSV";
  $("details-link").hidden = false;
  currentDataset = datasetId;
  if (!predictions.length) {
    const p = document.createElement("p");
    p.className = "verdict";
    p.id = singleEvent ? "single-event" : "no-signal";
    p.textContent = singleEvent
      ? singleEventText(singleEvent)
      : "No transit-like signal was found in this light curve.";
    box.append(p);
  }
  // Most planet-like first.
  const sorted = [...predictions].sort((a, b) => (b.probability ?? -1) - (a.probability ?? -1));
  for (const pred of sorted) box.append(verdictCard(pred, candidatesById[pred.candidate_id]));
  if (sorted.length < 2) box.querySelectorAll(".fold-on").forEach((b) => b.remove());
  results.hidden = false;
  lastCandidateIds = sorted.map((p) => p.candidate_id).filter((id) => id !== null && id !== undefined);
  $("export-panel").hidden = lastCandidateIds.length === 0;
  if (lastCandidateIds.length) $("details-link").href = `/candidates/${lastCandidateIds[0]}`;
  $("results-title").focus();
  $("lightcurve-panel").hidden = !datasetId;
  $("folded-panels").hidden = !datasetId || !lastCandidateIds.length;
  if (datasetId) await showCharts(datasetId, lastCandidateIds[0]);
}

// -------------------------------------------------------------------------------- upload
function idOf(obj, ...keys) {
  for (const k of keys) if (obj && obj[k] !== undefined && obj[k] !== null) return obj[k];
  return null;
}

// ------------------------------------------------------------------ a table of many rows
// A catalog upload (or a search with many signals): a summary, then one sortable, filterable
// table whose rows link to each candidate's page. Cards only for a few light-curve signals.
const CARD_LIMIT = 5;
const tableState = { rows: [], sort: "probability", descending: true };

// One formatter per precision: toLocaleString builds a new one per call, slow over 300 rows.
const formatters = new Map();
function fmt(value, digits) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  if (!formatters.has(digits)) {
    formatters.set(digits, new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }));
  }
  return formatters.get(digits).format(Number(value));
}

function matchText(match, name) {
  if (!match) return "not checked";
  if (!match.matched) return "no match";
  // an archive row is its own match: say so, with the archive's disposition
  const ids = [match.object_id, match.name].filter((x) => x && x !== name);
  const words = ids.length ? ids.join(" · ") : "yes";
  return words + (match.disposition ? ` (${match.disposition})` : "");
}

const SHORT_VERDICT = {
  planet: "likely planet", false_positive: "likely false positive", uncertain: "uncertain", none: "not classified",
};

const SORT_KEYS = {
  name: (r) => r.name.toLowerCase(),
  period_days: (r) => r.period_days,
  depth_ppm: (r) => r.depth_ppm,
  planet_radius_rearth: (r) => r.planet_radius_rearth,
  verdict: (r) => r.verdict,
  probability: (r) => r.probability,
  flagged: (r) => (r.flagged ? 1 : 0),
  catalog_match: (r) => (r.catalog_match && r.catalog_match.matched ? matchText(r.catalog_match) : "~"),
};

function summaryItem(label, value, key) {
  const item = document.createElement("div");
  item.className = `summary-stat ${key || ""}`;
  item.dataset.stat = key || label;
  const number = document.createElement("strong");
  number.textContent = Number(value).toLocaleString("en-US");
  const words = document.createElement("span");
  words.textContent = label;
  item.append(number, words);
  return item;
}

function renderSummary(summary, dataset) {
  const box = $("result-summary");
  const v = summary.verdicts;
  box.replaceChildren(
    summaryItem(summary.n_candidates === 1 ? "candidate" : "candidates", summary.n_candidates, "total"),
    summaryItem("likely planets", v.planet, "planet"),
    summaryItem("likely false positives", v.false_positive, "false_positive"),
    summaryItem("uncertain, sent to vetters", v.uncertain, "uncertain"),
    summaryItem("flagged: inputs outside the training range", summary.n_flagged, "flagged"),
    summaryItem("matched to the archive", summary.n_matched, "matched"),
  );
  if (v.none) box.append(summaryItem("not classified", v.none, "none"));
  $("catalog-result-title").textContent = dataset ? `${dataset.filename}: ${summary.n_candidates.toLocaleString("en-US")} rows` : "Your candidates";
}

function filteredRows() {
  const text = $("rt-search").value.trim().toLowerCase();
  const verdict = $("rt-verdict").value;
  const flagged = $("rt-flagged").checked;
  const match = $("rt-match").value;
  const key = SORT_KEYS[tableState.sort];
  const rows = tableState.rows.filter((r) => (!text || `${r.name} ${r.object_id} ${r.host_id || ""} ${matchText(r.catalog_match)}`.toLowerCase().includes(text))
    && (!verdict || r.verdict === verdict)
    && (!flagged || r.flagged)
    && (!match || (match === "matched") === Boolean(r.catalog_match && r.catalog_match.matched)));
  const sign = tableState.descending ? -1 : 1;
  return rows.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === y) return a.candidate_id - b.candidate_id;
    if (x === null || x === undefined) return 1;  // missing values last, either way
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function renderTable() {
  const rows = filteredRows();
  const fragment = document.createDocumentFragment();
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.candidateId = r.candidate_id;
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = r.url;
    link.textContent = r.name;
    name.append(link);
    if (r.host_id) {
      const host = document.createElement("span");
      host.className = "small muted";
      host.textContent = ` ${r.host_id}`;
      name.append(host);
    }
    const verdict = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = `badge ${r.verdict}`;
    badge.textContent = SHORT_VERDICT[r.verdict] || r.verdict_words;
    badge.title = r.verdict_words;
    verdict.append(badge);
    const flag = cell(r.flagged ? "flagged" : "", r.flagged ? "flag" : "");
    if (r.flagged) flag.title = `Outside the training range: ${r.flags.join(", ")}`;
    tr.append(
      name,
      cell(fmt(r.period_days, 4), "num"),
      cell(fmt(r.depth_ppm, 0), "num"),
      cell(fmt(r.planet_radius_rearth, 2), "num"),
      verdict,
      cell(formatProbability(r.probability, r.uncertainty), "num"),
      flag,
      cell(matchText(r.catalog_match, r.name), r.catalog_match && r.catalog_match.matched ? "" : "muted"),
    );
    fragment.append(tr);
  }
  $("result-table-body").replaceChildren(fragment);
  $("rt-count").textContent = `${fmt(rows.length, 0)} of ${fmt(tableState.rows.length, 0)} shown`;
  for (const th of $("result-table").querySelectorAll("th[data-sort]")) {
    const on = th.dataset.sort === tableState.sort;
    th.setAttribute("aria-sort", on ? (tableState.descending ? "descending" : "ascending") : "none");
  }
}

function showTable(data) {
  $("verdicts").replaceChildren();
  $("lightcurve-panel").hidden = true;
  $("folded-panels").hidden = true;
  currentDataset = null;
  tableState.rows = data.rows;
  renderSummary(data.summary, data.dataset);
  $("catalog-result").hidden = false;
  renderTable();
  performance.mark("exoguard:result-table");
  $("download-pdf").textContent = `Download the PDF report (first ${PDF_ROWS} rows shown)`;
  $("download-csv").textContent = "Download CSV (the rows shown)";
  results.hidden = false;
  lastCandidateIds = data.rows.map((r) => r.candidate_id);
  $("export-panel").hidden = lastCandidateIds.length === 0;
  $("details-link").hidden = true;  // each row links to its own page
  $("results-title").focus();
}

for (const th of document.querySelectorAll("#result-table th[data-sort]")) {
  th.querySelector("button").addEventListener("click", () => {
    const column = th.dataset.sort;
    tableState.descending = tableState.sort === column ? !tableState.descending : column !== "name";
    tableState.sort = column;
    renderTable();
  });
}
for (const id of ["rt-search", "rt-verdict", "rt-flagged", "rt-match"]) {
  $(id).addEventListener("input", renderTable);
}

// ------------------------------------------------------------ the result in the address
// The result's URL names the upload (?dataset=) or the typed-in candidates (?candidates=),
// so a reload, a bookmark or "My uploads" shows it again, from the server.
function setResultUrl(params) {
  const url = new URL(window.location.href);
  url.search = new URLSearchParams(params).toString();
  window.history.replaceState(null, "", url);
}

async function showDataset(datasetId, { singleEvent = null } = {}) {
  const data = await api(`/api/data/datasets/${encodeURIComponent(datasetId)}/results`);
  setResultUrl({ dataset: datasetId });
  const single = singleEvent || data.dataset.single_event || null;
  if (data.dataset.kind === "catalog" || data.rows.length > CARD_LIMIT) {
    showTable(data);
  } else {
    const byId = {};
    for (const r of data.rows) byId[r.candidate_id] = r;
    await showResults(data.rows, byId, { datasetId, singleEvent: single });
  }
  return data;
}

async function showCandidates(ids) {
  const data = await api(`/explore/candidates?ids=${ids.join(",")}`);
  setResultUrl({ candidates: ids.join(",") });
  const byId = {};
  for (const r of data.rows) byId[r.candidate_id] = r;
  if (data.rows.length > CARD_LIMIT) showTable(data);
  else await showResults(data.rows, byId);
  return data;
}

const uploadForm = $("upload-form");
uploadForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (inFlight($("upload-submit"))) return;
  const input = $("upload-file");
  const error = $("upload-error");
  const files = Array.from(input.files);
  const file = files[0];
  const problem = checkFiles(files, parseFloat(uploadForm.dataset.maxMb), parseInt(input.dataset.maxFiles, 10));
  error.textContent = problem || "";
  input.setAttribute("aria-invalid", problem ? "true" : "false");
  if (problem) {
    toast(problem, "error");
    input.focus();
    return;
  }
  const button = $("upload-submit");
  busy(button, true);
  results.hidden = true;
  try {
    const what = files.length > 1 ? `${files.length} files of one star` : file.name;
    showProgress(null, `Uploading ${what}…`);
    const form = new FormData();
    for (const f of files) form.append("file", f, f.name);
    const uploaded = await api("/api/data/upload", { method: "POST", body: form });
    const datasetId = idOf(uploaded, "dataset_id", "id");
    toast(`${what} received.`, "success");
    showProgress(0, "Searching the light curve for transits…");
    const started = await api("/api/data/preprocess", { method: "POST", json: { dataset_id: datasetId } });
    const jobId = idOf(started, "job_id", "id");
    const job = await pollJob(jobId, (j) => {
      const pct = Math.round(100 * (j.progress || 0));
      showProgress(j.progress || 0, `${j.message || "Searching for transits"}… ${pct}%`);
    });
    // The preprocessing job classifies what it finds; ask the model only if it could not.
    let predictions = (job.result && job.result.predictions) || [];
    if (!predictions.length && job.result && job.result.n_candidates) {
      showProgress(1, "Classifying the candidates…");
      const predicted = await api("/api/models/predict", { method: "POST", json: { dataset_id: datasetId } });
      predictions = predicted.predictions || [];
    }
    hideProgress();
    const singleEvent = (job.result && job.result.single_event) || null;
    const data = await showDataset(datasetId, { singleEvent });
    toast(singleEvent && !data.rows.length ? "One transit-like event found." : "Classification done.", "success");
  } catch (err) {
    hideProgress();
    error.textContent = err.message;
    toast(err.message, "error");
  } finally {
    busy(button, false);
  }
});

// Check the file as soon as it is chosen, before any click on the button.
$("upload-file").addEventListener("change", () => {
  const input = $("upload-file");
  const problem = input.files.length
    ? checkFiles(input.files, parseFloat(uploadForm.dataset.maxMb), parseInt(input.dataset.maxFiles, 10))
    : null;
  $("upload-error").textContent = problem || "";
  $("upload-file").setAttribute("aria-invalid", problem ? "true" : "false");
});

// --------------------------------------------------------------------------- manual entry
const manualForm = $("manual-form");
manualForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (inFlight($("manual-submit"))) return;
  const error = $("manual-error");
  error.textContent = "";
  for (const input of manualForm.querySelectorAll("input")) {
    if (!input.checkValidity()) {
      const label = input.labels[0].textContent.trim();
      error.textContent = input.validity.valueMissing
        ? `${label} is needed.`
        : `${label}: ${input.validationMessage}`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.setAttribute("aria-invalid", "false");
  }
  const candidate = {};
  for (const [key, value] of new FormData(manualForm).entries()) {
    if (value === "") continue;
    candidate[key] = ["mission", "host_id", "object_id"].includes(key) ? value : Number(value);
  }
  const button = $("manual-submit");
  busy(button, true);
  try {
    const body = { candidates: [candidate], save: true };  // kept: the explorer sees it under their results
    const predicted = await api("/api/models/predict", {
      method: "POST", json: body, headers: { "Idempotency-Key": idempotencyKey(body) },
    });
    const preds = predicted.predictions || [];
    if (preds.length && (preds[0].candidate_id === null || preds[0].candidate_id === undefined)) {
      // Not stored: show the typed parameters beside the verdict.
      preds[0] = { ...preds[0], candidate_id: null };
      const box = $("verdicts");
      currentDataset = null;
      $("catalog-result").hidden = true;
      box.replaceChildren(verdictCard(preds[0], { ...candidate, name: candidate.object_id || "your candidate" }));
      results.hidden = false;
      $("lightcurve-panel").hidden = true;
      $("folded-panels").hidden = true;
      $("export-panel").hidden = true;
      $("results-title").focus();
    } else {
      await showCandidates(preds.map((p) => p.candidate_id));
    }
    toast("Classification done.", "success");
  } catch (err) {
    error.textContent = err.message;
    toast(err.message, "error");
  } finally {
    busy(button, false);
  }
});

// ---------------------------------------------------------------------------------- export
// The table exports the rows it shows, in its order; a PDF holds the first PDF_ROWS of them.
const PDF_ROWS = 20;
function exportIds(kind) {
  if ($("catalog-result").hidden) return lastCandidateIds;
  const ids = filteredRows().map((r) => r.candidate_id);
  return kind === "pdf" ? ids.slice(0, PDF_ROWS) : ids;
}

async function download(kind) {
  if (!lastCandidateIds.length) return;
  const button = $(kind === "pdf" ? "download-pdf" : "download-csv");
  if (inFlight(button)) return;
  busy(button, true);
  try {
    const response = await api(`/api/export/${kind}`, {
      method: "POST",
      json: { candidate_ids: exportIds(kind) },
      headers: { Accept: kind === "pdf" ? "application/pdf" : "text/csv" },
      raw: true,
    });
    const blob = await response.blob();
    saveBlob(blob, filenameFrom(response, `exoguard-report.${kind}`));
    toast(`${kind.toUpperCase()} downloaded.`, "success");
  } catch (err) {
    toast(err.message, "error");
  } finally {
    busy(button, false);
  }
}
$("download-pdf").addEventListener("click", () => download("pdf"));
$("download-csv").addEventListener("click", () => download("csv"));

// ------------------------------------------------------------------ after a reload
async function restore() {
  const params = new URLSearchParams(window.location.search);
  const datasetId = params.get("dataset");
  const ids = (params.get("candidates") || "").split(",").filter((x) => /^\d+$/.test(x)).map(Number);
  if (!datasetId && !ids.length) return;
  try {
    if (datasetId) await showDataset(datasetId);
    else await showCandidates(ids);
  } catch (err) {
    toast(`The earlier result could not be shown: ${err.message}`, "error");
    setResultUrl({});
  }
}
restore();
