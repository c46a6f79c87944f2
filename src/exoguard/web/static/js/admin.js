// Admin page: change a role (with a confirmation) and deactivate or reactivate an account.
import { api, toast } from "./app.js";

function rowOf(el) { return el.closest("tr[data-user]"); }

for (const select of document.querySelectorAll("select[data-role-of]")) {
  select.addEventListener("change", async () => {
    const row = rowOf(select);
    const email = row.dataset.email;
    const previous = select.dataset.current;
    if (!window.confirm(`Give ${email} the role ${select.value}? Their sessions end; they log in again.`)) {
      select.value = previous;
      return;
    }
    select.disabled = true;
    try {
      const out = await api(`/api/admin/users/${select.dataset.roleOf}/role`, { method: "POST", json: { role: select.value } });
      select.dataset.current = out.user.role;
      toast(`${email} is now ${out.user.role}.`, "success");
    } catch (err) {
      select.value = previous;
      toast(err.message, "error");
    } finally {
      select.disabled = false;
    }
  });
}

for (const button of document.querySelectorAll("button[data-toggle-active]")) {
  button.addEventListener("click", async () => {
    const row = rowOf(button);
    const email = row.dataset.email;
    const makeActive = button.dataset.active !== "true";
    const question = makeActive
      ? `Reactivate ${email}? They can log in again.`
      : `Deactivate ${email}? Their sessions end and they can no longer log in.`;
    if (!window.confirm(question)) return;
    button.disabled = true;
    try {
      const out = await api(`/api/admin/users/${button.dataset.toggleActive}/active`, { method: "POST", json: { active: makeActive } });
      const active = out.user.is_active;
      button.dataset.active = active ? "true" : "false";
      button.firstChild.textContent = active ? "Deactivate" : "Reactivate";
      button.classList.toggle("secondary", active);
      const badge = row.querySelector("[data-state] .badge");
      badge.textContent = active ? "active" : "deactivated";
      badge.classList.toggle("active", active);
      toast(`${email} ${active ? "reactivated" : "deactivated"}.`, "success");
    } catch (err) {
      toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });
}
