// Candidate page (and the shared read-only page): charts, exports, share links.
import { api, toast, loadCharts, saveBlob, filenameFrom } from "./app.js";

const page = document.getElementById("candidate-page");
const candidateId = Number(page.dataset.candidateId);

function fmt(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toPrecision(digits) : "—";
}

/** The explanation in words (explorers) and the raw numbers in a <details> (researchers). */
function showExplanation(words) {
  if (!words) return;
  const summary = document.getElementById("shap-summary");
  summary.textContent = words.summary;
  summary.hidden = false;
  document.getElementById("shap-direction").textContent = words.direction;
  document.getElementById("shap-raw-base").textContent =
    `Log-odds of planet: base ${words.base_log_odds.toFixed(3)} → ${words.log_odds.toFixed(3)}.`;
  const body = document.querySelector("#shap-raw tbody");
  body.replaceChildren();
  for (const row of words.rows) {
    const tr = document.createElement("tr");
    const cells = [row.feature, fmt(row.value, 4), row.words, (row.contribution >= 0 ? "+" : "") + row.contribution.toFixed(4)];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      if (i === 0) {
        const code = document.createElement("code");
        code.textContent = text;
        td.append(code);
      } else {
        td.textContent = text;
      }
      if (i === 1 || i === 3) td.className = "num";
      tr.append(td);
    });
    body.append(tr);
  }
  document.getElementById("shap-raw").hidden = false;
}

// At once, not on the load event: the figures and the chart library are on their way already
// (_charts_head.html), and the stylesheet has sized the chart boxes before modules run.
loadCharts(page, page.dataset.chartsUrl)
  .then((payload) => showExplanation(payload.explanation))
  .catch((err) => toast(`Charts: ${err.message}`, "warning"));

async function exportAs(kind, button) {
  button.disabled = true;
  try {
    const response = await api(`/api/export/${kind}`, {
      method: "POST", json: { candidate_ids: [candidateId] }, raw: true,
    });
    saveBlob(await response.blob(), filenameFrom(response, `exoguard-${candidateId}.${kind}`));
    toast(`${kind.toUpperCase()} downloaded.`, "success");
  } catch (err) {
    toast(err.message, "error");
  } finally {
    button.disabled = false;
  }
}

const pdf = document.getElementById("export-pdf");
if (pdf) pdf.addEventListener("click", () => exportAs("pdf", pdf));
const csv = document.getElementById("export-csv");
if (csv) csv.addEventListener("click", () => exportAs("csv", csv));

let linkId = null;
const share = document.getElementById("share-create");
if (share) {
  share.addEventListener("click", async () => {
    share.disabled = true;
    try {
      const made = await api("/api/export/share", { method: "POST", json: { candidate_id: candidateId } });
      linkId = made.id ?? made.link_id ?? null;
      const url = made.url && made.url.startsWith("/") ? window.location.origin + made.url : made.url;
      document.getElementById("share-url").value = url || `${window.location.origin}/share/${made.token}`;
      document.getElementById("share-result").hidden = false;
      document.getElementById("share-url").select();
      toast("Share link created.", "success");
    } catch (err) {
      toast(err.message, "error");
    } finally {
      share.disabled = false;
    }
  });
  document.getElementById("share-copy").addEventListener("click", async () => {
    const input = document.getElementById("share-url");
    try {
      await navigator.clipboard.writeText(input.value);
      toast("Link copied.", "success");
    } catch (err) {
      input.select();
      toast("Select the link and copy it (Ctrl+C).", "info");
    }
  });
  document.getElementById("share-revoke").addEventListener("click", async () => {
    if (linkId === null) return;
    try {
      await api(`/api/export/share/${linkId}`, { method: "DELETE" });
      document.getElementById("share-result").hidden = true;
      toast("Share link revoked.", "success");
    } catch (err) {
      toast(err.message, "error");
    }
  });
}
