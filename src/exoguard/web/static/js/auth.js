// Login and registration forms: POST to /api/auth/*, then go where the user was heading.
import { api, toast } from "./app.js";

function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function wire(formId, errorId, submit) {
  const form = document.getElementById(formId);
  if (!form) return;
  const error = document.getElementById(errorId);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const missing = [...form.querySelectorAll("[required]")].find((el) => !el.value.trim());
    if (missing) {
      error.textContent = `Please fill in ${missing.labels[0].textContent.trim().toLowerCase()}.`;
      missing.focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await submit(values(form));
      window.location.assign(form.dataset.next || "/");
    } catch (err) {
      error.textContent = err.message;
      toast(err.message, "error");
      button.disabled = false;
    }
  });
}

wire("login-form", "login-error", async ({ email, password }) => {
  await api("/api/auth/login", { method: "POST", json: { email, password } });
});

wire("register-form", "register-error", async ({ email, password, name }) => {
  if (password.length < 8) throw new Error("The password needs at least 8 characters.");
  await api("/api/auth/register", { method: "POST", json: { email, password, name } });
  await api("/api/auth/login", { method: "POST", json: { email, password } });
});
