// "Add a server": create an install token (get_satellite_token) and show the agent command once;
// list and revoke the live tokens (get_satellite_tokens, delete_satellite_token).
import { h, replace } from "../dom.js";
import { call } from "../api.js";
import { confirmDialog, errorBox, field, showFieldError, table, toast } from "../components.js";
import { relative, time } from "../format.js";

const EXPIRY = [
  [3600, "1 hour"],
  [86400, "1 day"],
  [7 * 86400, "7 days"],
  [30 * 86400, "30 days"],
];

export function installPanel(ctx) {
  const out = h("div.install-out");
  const tokens = h("div");
  const expires = h("select", { name: "expires" }, EXPIRY.map(([s, label]) => h("option", { value: s, selected: s === 86400 }, label)));
  const title = h("input", { name: "title", type: "text", placeholder: "optional" });
  const form = h("form.install-form", { novalidate: true },
    h("div.form-error"),
    h("div.row.align-end", field("Token valid for", expires), field("Title of the new servers", title, "optional"),
      h("button.btn.btn-primary", { type: "submit" }, "Create install token")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = { expires: Number(expires.value) };
    if (title.value.trim()) params.title = title.value.trim();
    try {
      const body = await call("get_satellite_token", params);
      showCommand(body);
      loadTokens();
    } catch (error) {
      showFieldError(form, error);
    }
  });

  function showCommand(body) {
    const base = (body.base_url || location.origin).replace(/\/+$/, "");
    const command = `cronwright agent --conductor ${base} --token ${body.token}`;
    const code = h("input.plain-key", { type: "text", readonly: true, "aria-label": "Agent install command" });
    code.value = command;
    const copy = h("button.btn.btn-primary", {
      type: "button",
      onclick: async () => {
        code.select();
        try {
          await navigator.clipboard.writeText(command);
        } catch {
          document.execCommand("copy");
        }
        copy.textContent = "Copied";
      },
    }, "Copy command");
    replace(out, h("div.alert.ok", { role: "status" },
      h("strong", "Install token created."),
      h("p", "Run this on each server to add (the token works until it expires). It is shown only now: copy it before leaving this page."),
      h("div.row.key-row", code, copy, h("button.btn", { type: "button", onclick: () => replace(out) }, "Done"))));
    code.focus();
    code.select();
  }

  async function loadTokens() {
    let rows;
    try {
      rows = (await call("get_satellite_tokens")).rows;
    } catch (error) {
      replace(tokens, errorBox(error, "Install tokens could not be listed"));
      return;
    }
    if (!ctx.alive()) return;
    replace(tokens, rows.length ? [h("h3", "Live install tokens"), table([
      { title: "Created", cell: (t) => time(t.created) },
      { title: "By", cell: (t) => t.username || "—" },
      { title: "Expires", cell: (t) => relative(t.expires) },
      { title: "Title", cell: (t) => (t.metadata && t.metadata.title) || h("span.muted", "—") },
      {
        title: "Actions",
        cell: (t) => h("button.btn.btn-small.btn-danger", {
          type: "button",
          onclick: async () => {
            if (!(await confirmDialog("Revoke this install token? Servers it already added stay.", { confirm: "Revoke", danger: true }))) return;
            try {
              await call("delete_satellite_token", { id: t.id });
              toast("Install token revoked.", "ok");
            } catch (error) {
              toast(error.description || String(error), "err");
            }
            loadTokens();
          },
        }, "Revoke"),
      },
    ], rows)] : []);
  }
  loadTokens();

  return h("section.panel", { "aria-labelledby": "add-server" },
    h("h2", { id: "add-server" }, "Add a server"),
    h("p.muted.small", "An install token lets an agent join this conductor. Create one, then run the command it gives on the new server."),
    form, out, tokens);
}
