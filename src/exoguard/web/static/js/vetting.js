// Vetting page: the charts, and the vote (planet / false positive, confidence 1-5, comment).
import { api, toast, loadCharts } from "./app.js";

const page = document.getElementById("vetting-page");
const itemId = Number(page.dataset.itemId);

window.addEventListener("load", () => {
  loadCharts(page, page.dataset.chartsUrl).catch((err) => toast(`Charts: ${err.message}`, "warning"));
});

const form = document.getElementById("vote-form");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const label = event.submitter ? event.submitter.value : null;
    const error = document.getElementById("vote-error");
    error.textContent = "";
    if (label !== "planet" && label !== "false_positive") {
      error.textContent = "Choose Planet or False positive.";
      return;
    }
    const confidence = Number(new FormData(form).get("confidence"));
    const comment = document.getElementById("vote-comment").value.trim();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api("/api/vetting/submit", {
        method: "POST",
        json: { item_id: itemId, label, confidence, comment: comment || null },
      });
      form.hidden = true;
      const done = document.getElementById("vote-done");
      done.hidden = false;
      done.replaceChildren();
      const text = document.createElement("span");
      text.textContent = `Vote recorded: ${label === "planet" ? "planet" : "false positive"}, confidence ${confidence}/5. `;
      const next = document.createElement("a");
      next.href = "/vetting/next";
      next.className = "btn";
      next.textContent = "Next candidate";
      done.append(text, next);
      next.focus();
      toast("Thank you — your vote is recorded.", "success");
    } catch (err) {
      error.textContent = err.message;
      toast(err.message, "error");
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}
