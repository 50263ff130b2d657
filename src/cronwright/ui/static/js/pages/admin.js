// Admin (#/admin, #/admin/:section): API keys, users, roles, categories, plugins, tags, web hooks,
// server groups. The route table already limits these pages to administrators.
import { h } from "../dom.js";
import { pageHead } from "../components.js";
import { categories, groups, plugins, roles, tags } from "./admin_sections.js";
import { keys, users } from "./admin_people.js";
import { hooks } from "./admin_hooks.js";

const SECTIONS = [
  { id: "keys", title: "API keys", render: keys, about: "Keys for scripts and other systems; the key itself is shown once." },
  { id: "users", title: "Users", render: users, about: "Who can log in, with which privileges and roles." },
  { id: "roles", title: "Roles", render: roles, about: "Bundles of privileges and restrictions given to users." },
  { id: "categories", title: "Categories", render: categories, about: "Groups of events with shared limits and actions." },
  { id: "plugins", title: "Plugins", render: plugins, about: "The programs jobs run, and their parameters." },
  { id: "tags", title: "Tags", render: tags, about: "Labels for jobs, to find them in History." },
  { id: "hooks", title: "Web hooks", render: hooks, about: "HTTP requests sent by job actions; test them here." },
  { id: "groups", title: "Server groups", render: groups, about: "Which servers run which events, by host name." },
];

function sectionNav(current) {
  return h("nav.admin-tabs", { "aria-label": "Admin sections" },
    SECTIONS.map((s) => h("a", { href: `#/admin/${s.id}`, "aria-current": s.id === current ? "page" : undefined }, s.title)));
}

export default async function render(root, ctx) {
  root.classList.add("page-admin");
  const id = ctx.params.section;
  if (!id) {
    ctx.setTitle("Admin");
    root.append(pageHead("Administration"),
      h("p.muted", "Choose what to manage."),
      h("div.grid.admin-cards", SECTIONS.map((s) => h("a.panel.admin-card", { href: `#/admin/${s.id}` }, h("strong", s.title), h("span.muted", s.about)))));
    return;
  }
  const section = SECTIONS.find((s) => s.id === id);
  if (!section) {
    root.append(pageHead("Administration"), sectionNav(""),
      h("p", "There is no admin section with this name. ", h("a", { href: "#/admin" }, "See all sections.")));
    return;
  }
  ctx.setTitle(`${section.title} · Admin`);
  root.append(pageHead(section.title), sectionNav(id));
  const body = h("div.admin-section", { dataset: { section: id } });
  root.append(body);
  await section.render(body, ctx);
}
