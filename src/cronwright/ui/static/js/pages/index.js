// Every page: its path (":name" parts become ctx.params), module, title and menu placement.
export const ROUTES = [
  { path: "/", module: "./pages/dashboard.js", title: "Dashboard", nav: true, section: "" },
  { path: "/events", module: "./pages/events.js", title: "Events", nav: true, section: "" },
  { path: "/events/new", module: "./pages/event_edit.js", title: "New event" },
  { path: "/event/:id", module: "./pages/event_edit.js", title: "Event" },
  { path: "/event/:id/run", module: "./pages/run.js", title: "Run event" },
  { path: "/job/:id", module: "./pages/job.js", title: "Job" },
  { path: "/history", module: "./pages/history.js", title: "History", nav: true, section: "" },
  { path: "/servers", module: "./pages/servers.js", title: "Servers", nav: true, section: "" },
  { path: "/server/:id", module: "./pages/servers.js", title: "Server" },
  { path: "/activity", module: "./pages/activity.js", title: "Activity", nav: true, section: "" },
  { path: "/admin", module: "./pages/admin.js", title: "Admin", nav: true, admin: true, section: "Administration", navPath: "/admin" },
  { path: "/admin/:section", module: "./pages/admin.js", title: "Admin", admin: true },
];

/** The route for a path and its parameters, or null. */
export function match(path) {
  const parts = path.split("/").filter(Boolean);
  for (const route of ROUTES) {
    const pattern = route.path.split("/").filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i += 1) {
      if (pattern[i].startsWith(":")) params[pattern[i].slice(1)] = decodeURIComponent(parts[i]);
      else if (pattern[i] !== parts[i]) ok = false;
    }
    if (ok) return { route, params };
  }
  return null;
}
