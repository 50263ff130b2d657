// The shell: session check, navigation, and the router (#/path → a page module in pages/).
import { call, whenSessionLost } from "./api.js";
import { h, replace } from "./dom.js";
import { errorBox, toast } from "./components.js";
import { ROUTES, match } from "./pages/index.js";
import { watchShortcuts } from "./shortcuts.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const topbar = document.getElementById("topbar");
const app = document.getElementById("app");
let session = null;
let cleanups = [];
let stopShortcuts = null;
let generation = 0;
// resolved once the first session check answered: no page is chosen before it
let ready;
const started = new Promise((resolve) => { ready = resolve; });

function can(privilege) {
  if (!session) return false;
  const privileges = session.privileges || {};
  return Boolean(privileges.admin || privileges[privilege]);
}

function buildNav() {
  const items = ROUTES.filter((r) => r.nav && (!r.admin || can("admin")));
  const sections = [];
  let last = null;
  for (const route of items) {
    if (route.section !== last) {
      if (route.section) sections.push(h("div.nav-section", route.section));
      last = route.section;
    }
    sections.push(h("a", { href: `#${route.navPath || route.path}`, dataset: { path: route.navPath || route.path } }, route.title));
  }
  replace(nav, sections);
}

function markNav(path) {
  for (const link of nav.querySelectorAll("a")) {
    const target = link.dataset.path;
    const current = target === "/" ? path === "/" : path === target || path.startsWith(`${target}/`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function runCleanups() {
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch (error) {
      console.warn("cleanup failed", error);
    }
  }
}

export function navigate(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

async function route() {
  await started;
  const mine = ++generation;
  runCleanups();
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, queryString = ""] = raw.split("?");
  if (!session) {
    await showLogin();
    return;
  }
  const found = match(path);
  markNav(path);
  nav.classList.remove("open");
  document.getElementById("nav-toggle").setAttribute("aria-expanded", "false");
  const root = h("div.page");
  replace(main, root);
  if (!found) {
    document.title = "Not found · Cronwright";
    replace(root, h("h1", "Page not found"), h("p", "There is no page at this address. ", h("a", { href: "#/" }, "Go to the dashboard.")));
    return;
  }
  if (found.route.admin && !can("admin")) {
    document.title = "Not allowed · Cronwright";
    replace(root, h("h1", "Administrators only"), h("p", "Your account cannot see this page. Ask an administrator if you need it."));
    return;
  }
  document.title = `${found.route.title} · Cronwright`;
  const ctx = {
    session,
    can,
    params: found.params,
    query: new URLSearchParams(queryString),
    navigate,
    onCleanup: (fn) => cleanups.push(fn),
    setTitle: (title) => { document.title = `${title} · Cronwright`; },
    alive: () => mine === generation,
  };
  try {
    const module = await import(found.route.module);
    if (mine !== generation) return;
    await module.default(root, ctx);
  } catch (error) {
    if (mine !== generation) return;
    console.error(error);
    root.append(errorBox(error, "This page could not be shown"));
  }
}

async function showLogin() {
  app.classList.add("logged-out");
  topbar.hidden = true;
  nav.hidden = true;
  document.title = "Log in · Cronwright";
  const module = await import("./pages/login.js");
  const root = h("div.page");
  replace(main, root);
  module.default(root, {
    async onLogin() {
      await loadSession();
      route();
    },
  });
}

async function loadSession() {
  try {
    session = await call("resume_session", {}, { ns: "user" });
  } catch (error) {
    session = null;
    if (error.code !== "session") throw error;
    return;
  }
  app.classList.remove("logged-out");
  topbar.hidden = false;
  nav.hidden = false;
  const user = session.user || {};
  replace(document.getElementById("whoami"), user.full_name || session.username);
  buildNav();
  if (stopShortcuts) stopShortcuts();
  stopShortcuts = watchShortcuts({ can, navigate });
}

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await call("logout", {}, { ns: "user" });
  } catch (error) {
    if (error.code !== "session") toast(error.description, "err");
  }
  session = null;
  runCleanups();
  if (stopShortcuts) stopShortcuts();
  stopShortcuts = null;
  location.hash = "/";
  showLogin();
});

document.getElementById("nav-toggle").addEventListener("click", (event) => {
  const open = nav.classList.toggle("open");
  event.currentTarget.setAttribute("aria-expanded", String(open));
});

whenSessionLost(() => {
  if (!session) return;
  session = null;
  runCleanups();
  toast("Your session has ended. Please log in again.", "err");
  showLogin();
});

window.addEventListener("hashchange", route);

(async () => {
  try {
    await loadSession();
  } catch (error) {
    replace(main, errorBox(error, "Cronwright could not be reached"));
    return;
  }
  ready();
  route();
})();
