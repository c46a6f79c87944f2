// Vetting page: the charts, and the vote (planet / false positive, confidence 1-5, comment).
// A vetter may change their vote until the item settles; the page then shows the new count,
// the candidate's state and (once they voted) the other vetters' comments.
import { api, toast, loadCharts } from "./app.js";

const page = document.getElementById("vetting-page");
const itemId = Number(page.dataset.itemId);

/** Hide every panel whose only chart could not be drawn: no empty boxes on this page. */
function hideEmptyPanels() {
  for (const el of page.querySelectorAll("[data-chart].chart-empty")) {
    const panel = el.closest("section.panel");
    if (panel) panel.hidden = true;
  }
}

// At once (the figures and the chart library are on their way: _charts_head.html).
loadCharts(page, page.dataset.chartsUrl)
  .then(hideEmptyPanels)
  .catch((err) => {
    hideEmptyPanels();
    toast(`Charts: ${err.message}`, "warning");
  });

const LABEL_WORDS = { planet: "planet", false_positive: "false positive" };

function showCount(n) {
  document.getElementById("n-votes").textContent = `${n} vote${n === 1 ? "" : "s"} so far`;
}

function showState(state) {
  const box = document.querySelector("#verdict-box .verdict");
  if (!box || !state) return;
  box.className = `verdict ${state.key}`;
  const words = box.querySelector(".words");
  if (words) words.textContent = state.words.charAt(0).toUpperCase() + state.words.slice(1);
}

async function showComments() {
  try {
    const data = await api(`/api/vetting/items/${itemId}/comments`);
    const section = document.getElementById("comments");
    const list = document.getElementById("comments-list");
    list.replaceChildren();
    for (const c of data.comments) {
      const li = document.createElement("li");
      const who = document.createElement("strong");
      who.textContent = c.mine ? `${c.vetter} (you)` : c.vetter;
      li.append(who, ` — ${LABEL_WORDS[c.label]}, ${c.confidence}/5: ${c.comment}`);
      list.append(li);
    }
    if (!data.comments.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No comments yet.";
      list.append(li);
    }
    section.hidden = false;
  } catch (err) {
    toast(`Comments: ${err.message}`, "warning");
  }
}

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
      const out = await api("/api/vetting/submit", {
        method: "POST",
        json: { item_id: itemId, label, confidence, comment: comment || null },
      });
      showCount(out.n_votes);
      showState(out.state);
      const done = document.getElementById("vote-done");
      done.hidden = false;
      done.replaceChildren();
      const text = document.createElement("span");
      const verb = out.changed ? "Vote changed" : "Vote recorded";
      text.textContent = `${verb}: ${LABEL_WORDS[label]}, confidence ${confidence}/5. `;
      done.append(text);
      if (out.settled) {
        form.hidden = true;
        const settled = document.createElement("span");
        settled.textContent = "This vote settled the item. ";
        done.append(settled);
      } else {
        const hint = document.createElement("span");
        hint.textContent = "You can change your vote until the item settles. ";
        done.append(hint);
        form.querySelector('button[value="planet"]').textContent = "Change to planet";
        form.querySelector('button[value="false_positive"]').textContent = "Change to false positive";
      }
      const next = document.createElement("a");
      next.href = "/vetting/next";
      next.className = "btn";
      next.textContent = "Next candidate";
      done.append(next);
      next.focus();
      toast(out.changed ? "Your vote is changed." : "Thank you — your vote is recorded.", "success");
      await showComments();
    } catch (err) {
      error.textContent = err.message;
      toast(err.message, "error");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}
