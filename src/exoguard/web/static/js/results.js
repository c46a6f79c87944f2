// Results page: export the candidates shown as CSV or a multi-candidate PDF.
import { api, toast, saveBlob, filenameFrom } from "./app.js";

async function exportAs(kind, button) {
  const ids = button.dataset.ids.split(",").filter(Boolean).map(Number);
  if (!ids.length) return;
  button.disabled = true;
  try {
    const response = await api(`/api/export/${kind}`, { method: "POST", json: { candidate_ids: ids }, raw: true });
    saveBlob(await response.blob(), filenameFrom(response, `exoguard-results.${kind}`));
    toast(`${kind.toUpperCase()} downloaded.`, "success");
  } catch (err) {
    toast(err.message, "error");
  } finally {
    button.disabled = false;
  }
}

for (const [id, kind] of [["export-csv", "csv"], ["export-pdf", "pdf"]]) {
  const button = document.getElementById(id);
  if (button) button.addEventListener("click", () => exportAs(kind, button));
}
