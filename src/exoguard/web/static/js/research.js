// Researcher mode: start training with changed hyperparameters, follow the job, draw the
// metrics of a version, activate a version, explain one candidate.
import { api, toast, pollJob, loadCharts, plot } from "./app.js";

const $ = (id) => document.getElementById(id);
const form = $("train-form");
const modelSelect = $("train-model");

function showModel(model) {
  for (const el of form.querySelectorAll("[data-model]")) {
    if (el.tagName === "FIELDSET" || el.classList.contains("field")) el.hidden = el.dataset.model !== model;
  }
}
modelSelect.addEventListener("change", () => showModel(modelSelect.value));
showModel(modelSelect.value);

// The placeholders show the values of the chosen starting configuration.
function showConfigValues(select) {
  const values = JSON.parse(select.dataset.values || "{}")[select.value] || {};
  for (const input of form.querySelectorAll(`[data-param][data-model="${select.dataset.model}"]`)) {
    if (input.tagName === "INPUT" && values[input.name] !== undefined) input.placeholder = String(values[input.name]);
  }
}
for (const select of form.querySelectorAll("select[name=config]")) {
  select.addEventListener("change", () => showConfigValues(select));
  showConfigValues(select);
}

/** The changed hyperparameters of `model` (empty inputs keep the configuration's value). */
export function collectParams(model) {
  const params = { config: form.querySelector(`select[name=config][data-model="${model}"]`).value };
  for (const input of form.querySelectorAll(`[data-param][data-model="${model}"]`)) {
    if (input.value === "") continue;
    if (input.tagName === "INPUT" && !input.checkValidity()) {
      throw new Error(`${input.labels[0].textContent.trim()}: ${input.validationMessage}`);
    }
    params[input.name] = input.dataset.kind === "int" ? parseInt(input.value, 10)
      : input.dataset.kind === "float" ? parseFloat(input.value) : input.value;
  }
  return params;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("train-error");
  error.textContent = "";
  const model = modelSelect.value;
  let params;
  try {
    params = collectParams(model);
  } catch (err) {
    error.textContent = err.message;
    return;
  }
  const button = $("train-submit");
  button.disabled = true;
  $("train-progress").hidden = false;
  const bar = $("train-bar");
  const status = $("train-status");
  bar.value = 0;
  status.textContent = "Queued…";
  try {
    const started = await api("/api/models/train", { method: "POST", json: { model, params } });
    toast(`Training started (${model}, ${params.config}).`, "info");
    const job = await pollJob(started.job_id, (j) => {
      bar.value = j.progress || 0;
      status.textContent = `${j.status}: ${Math.round(100 * (j.progress || 0))}%${j.message ? ` — ${j.message}` : ""}`;
    });
    const version = job.result && job.result.version;
    status.textContent = `Done: version ${version}.`;
    toast(`Model ${version} trained.`, "success");
    window.location.assign(`/research?version=${encodeURIComponent(version)}&flash=${encodeURIComponent(`Model ${version} trained`)}#metrics-title`);
  } catch (err) {
    error.textContent = err.message;
    status.textContent = `Failed: ${err.message}`;
    toast(err.message, "error");
  } finally {
    button.disabled = false;
  }
});

// ---------------------------------------------------------------------------- versions
for (const button of document.querySelectorAll("[data-activate]")) {
  button.addEventListener("click", async () => {
    const version = button.dataset.activate;
    // Activating changes every verdict the site gives from now on: ask first.
    if (!window.confirm(`Activate ${version}? Every new verdict will come from this model.`)) return;
    button.disabled = true;
    try {
      await api(`/api/models/versions/${encodeURIComponent(version)}/activate`, { method: "POST" });
      toast(`${version} is now the active model.`, "success");
      window.location.assign(`/research?version=${encodeURIComponent(version)}&flash=${encodeURIComponent(`${version} activated`)}`);
    } catch (err) {
      toast(err.message, "error");
      button.disabled = false;
    }
  });
}

// ----------------------------------------------------------------------------- metrics
const metrics = $("metrics");
// At once: the figures (data-charts-url, preloaded) and the chart library are on their way.
if (metrics.dataset.chartsUrl) {
  loadCharts(metrics, metrics.dataset.chartsUrl)
    .catch((err) => toast(`Metrics: ${err.message}`, "warning"));
}

// -------------------------------------------------------------------------------- SHAP
$("explain-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("explain-candidate");
  const chart = $("explain-chart");
  if (!input.value || !input.checkValidity()) {
    toast("Type a candidate id (a whole number).", "error");
    input.focus();
    return;
  }
  try {
    const payload = await api(`/charts/explain/${encodeURIComponent(input.value)}`);
    if (payload.figures.shap) await plot(chart, payload.figures.shap);
    else chart.textContent = payload.missing.shap || "No explanation.";
  } catch (err) {
    chart.textContent = err.message;
    toast(err.message, "error");
  }
});
