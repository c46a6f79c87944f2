// Survey mode: start a survey, then follow its progress (read from the database by the API).
import { api, toast } from "./app.js";

const $ = (id) => document.getElementById(id);
const panel = $("survey-panel");
let timer = null;

function eta(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${r} s` : `${r} s`;
}

function show(view) {
  panel.hidden = false;
  panel.dataset.survey = view.survey_id;
  $("survey-title").textContent = view.name;
  const bar = $("survey-bar");
  bar.max = Math.max(view.n_stars, 1);
  bar.value = view.finished;
  $("survey-status").textContent = view.status === "finished"
    ? `finished: ${view.done} of ${view.n_stars} stars done, ${view.failed} failed`
    : `${view.finished} of ${view.n_stars} stars (${Math.round(100 * view.fraction)} %)`;
  for (const dd of panel.querySelectorAll("[data-stat]")) {
    const key = dd.dataset.stat;
    dd.textContent = key === "eta" ? (view.status === "finished" ? "0 s" : eta(view.eta_s))
      : key === "stars_per_s" ? (view.stars_per_s ? view.stars_per_s.toFixed(2) : "—")
      : String(view[key]);
  }
  $("survey-csv").href = view.csv_url;
  $("survey-pdf").href = view.pdf_url;
  const list = $("survey-failures");
  list.replaceChildren();
  for (const f of view.failures) {
    const li = document.createElement("li");
    const strong = document.createElement("strong");
    strong.textContent = f.target;
    li.append(strong, `: ${f.reason}`);
    list.append(li);
  }
  if (!view.failures.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "none";
    list.append(li);
  }
}

/** The list of surveys, read again (a survey started or finished here). */
async function refreshList() {
  const { surveys } = await api("/api/surveys");
  const body = document.querySelector("#surveys-table tbody");
  body.replaceChildren();
  for (const s of surveys) {
    const row = document.createElement("tr");
    row.dataset.survey = s.survey_id;
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = `/research/surveys?survey=${encodeURIComponent(s.survey_id)}`;
    link.textContent = s.name;
    name.append(link);
    const status = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = s.status;
    status.append(badge);
    row.append(name, status);
    for (const key of ["n_stars", "done", "failed", "n_candidates"]) {
      const cell = document.createElement("td");
      cell.className = "num";
      cell.textContent = String(s[key]);
      row.append(cell);
    }
    body.append(row);
  }
}

async function poll(surveyId) {
  clearTimeout(timer);
  try {
    const view = await api(`/api/surveys/${encodeURIComponent(surveyId)}`);
    show(view);
    if (view.status === "finished") {
      toast(`Survey ${view.name} finished: ${view.n_candidates} candidates`, "success");
      await refreshList();
      return;
    }
  } catch (err) {
    toast(err.message, "error");
  }
  timer = setTimeout(() => poll(surveyId), 1000);
}

$("survey-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("survey-error");
  error.textContent = "";
  const source = $("survey-source").value.trim();
  const chunk = $("survey-chunk");
  if (!source) {
    error.textContent = "Folder or manifest: give a folder or a manifest CSV (e.g. lightcurves/tess).";
    return;
  }
  if (!chunk.checkValidity()) {
    error.textContent = `Stars per chunk: ${chunk.validationMessage}`;
    return;
  }
  const button = $("survey-submit");
  button.disabled = true;
  try {
    const view = await api("/api/surveys", {
      method: "POST",
      json: { source, name: $("survey-name").value.trim() || null, chunk_size: parseInt(chunk.value, 10) },
    });
    toast(`Survey of ${view.n_stars} stars started`, "info");
    show(view);
    await refreshList();
    poll(view.survey_id);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

if (panel.dataset.survey) poll(panel.dataset.survey);
