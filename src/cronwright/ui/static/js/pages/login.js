// The login form: /api/user/login sets the HttpOnly session cookie.
import { call } from "../api.js";
import { h } from "../dom.js";
import { errorBox, field } from "../components.js";

export default function render(root, { onLogin }) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("div", { "aria-live": "assertive" });
  const submit = h("button.btn.btn-primary", { type: "submit" }, "Log in");
  const form = h("form.panel.login", { novalidate: true },
    h("h1", "Cronwright"),
    message,
    field("User name", username),
    field("Password", password),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.replaceChildren();
    if (!username.value.trim() || !password.value) {
      message.replaceChildren(errorBox("Enter your user name and password."));
      return;
    }
    submit.disabled = true;
    try {
      await call("login", { username: username.value.trim(), password: password.value }, { ns: "user" });
      await onLogin();
    } catch (error) {
      message.replaceChildren(errorBox(error));
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
  username.focus();
}
