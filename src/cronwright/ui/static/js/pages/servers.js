// Servers (#/servers) and one server (#/server/:id): the online servers with load, memory and
// jobs, enable/disable, the server groups, and install tokens that enrol new servers.
import { h, replace } from "../dom.js";
import { call } from "../api.js";
import { emptyState, errorBox, pageHead, table, toast } from "../components.js";
import { bytes, duration, outcomeBadge, relative, time } from "../format.js";
import { serverJobs, serverLoad, serverMemory } from "./dash_servers.js";
import { installPanel } from "./dash_install.js";
import { eventTitle, eventTitles } from "./dash_data.js";

function groupNames(ids, groups) {
  if (!ids || !ids.length) return h("span.muted", "none");
  return h("span.row.tight", ids.map((id) => h("span.badge", (groups[id] && groups[id].title) || id)));
}

function enabledBadge(server) {
  return server.enabled === false ? h("span.badge.err", "disabled") : h("span.badge.ok", "enabled");
}

async function setEnabled(server, enabled) {
  await call("update_server", { id: server.id, enabled });
  toast(`${server.hostname} is ${enabled ? "enabled: it takes new jobs" : "disabled: it takes no new jobs"}.`, "ok");
}

function toggleButton(server, onDone) {
  const enable = server.enabled === false;
  return h("button.btn.btn-small", {
    type: "button",
    "aria-label": `${enable ? "Enable" : "Disable"} ${server.hostname}`,
    onclick: async (event) => {
      event.currentTarget.disabled = true;
      try {
        await setEnabled(server, enable);
      } catch (error) {
        toast(error.description || String(error), "err");
      }
      onDone();
    },
  }, enable ? "Enable" : "Disable");
}

async function listPage(root, ctx) {
  const canUpdate = ctx.can("update_servers");
  const list = h("div", h("p.loading", "Loading…"));
  const groupBox = h("div", h("p.loading", "Loading…"));
  root.append(pageHead("Servers"), h("section.panel", { "aria-labelledby": "servers-online" }, h("h2", { id: "servers-online" }, "Online servers"), list));
  if (ctx.can("add_servers")) root.append(installPanel(ctx));
  root.append(h("section.panel", { "aria-labelledby": "server-groups" },
    h("div.section-head", h("h2", { id: "server-groups" }, "Groups"),
      ctx.can("admin") ? h("a.btn.btn-small", { href: "#/admin/groups" }, "Manage groups") : null),
    h("p.muted.small", "A server joins every group whose host name pattern matches its host name; events target groups."),
    groupBox));

  async function refresh() {
    let servers;
    let groups;
    let jobs;
    try {
      [servers, groups, jobs] = await Promise.all([
        call("get_active_servers").then((b) => b.rows),
        call("get_groups").then((b) => b.rows),
        call("get_active_jobs").then((b) => b.rows).catch(() => null),
      ]);
    } catch (error) {
      replace(list, errorBox(error, "The servers could not be loaded"));
      return;
    }
    if (!ctx.alive()) return;
    const byId = Object.fromEntries(groups.map((g) => [g.id, g]));
    const columns = [
      { title: "Server", cell: (s) => h("span.stack-cell", h("a", { href: `#/server/${encodeURIComponent(s.id)}` }, s.title || s.hostname), s.title ? h("span.muted.small", s.hostname) : null) },
      { title: "Address", cell: (s) => s.ip || h("span.muted", "—") },
      { title: "Groups", cell: (s) => groupNames(s.groups, byId) },
      { title: "CPU load", cell: (s) => serverLoad(s) },
      { title: "Memory", cell: (s) => serverMemory(s) },
      { title: "Jobs", cell: (s) => String(serverJobs(s, jobs)) },
      { title: "Status", cell: (s) => enabledBadge(s) },
    ];
    if (canUpdate) columns.push({ title: "Actions", cell: (s) => toggleButton(s, refresh) });
    replace(list, table(columns, servers, {
      empty: emptyState("No servers online", "Start an agent with an install token (Add a server) or turn the conductor's local worker on."),
      rowAttrs: (s) => ({ dataset: { server: s.id } }),
    }));
    replace(groupBox, table([
      { title: "Group", cell: (g) => g.title },
      { title: "ID", cell: (g) => h("code", g.id) },
      { title: "Host name match", cell: (g) => h("code", g.hostname_match) },
      { title: "Servers online", cell: (g) => String(servers.filter((s) => (s.groups || []).includes(g.id)).length) },
      { title: "Jobs per server", cell: (g) => (g.max_jobs_per_server ? String(g.max_jobs_per_server) : "no limit") },
    ], groups, { empty: emptyState("No groups yet", "Create a group so events can target servers by role.", ctx.can("admin") ? h("a.btn", { href: "#/admin/groups" }, "Create a group") : null) }));
  }
  await refresh();
}

function infoList(server, sample, online) {
  const info = server.info || {};
  const os = info.os || {};
  const rows = [
    ["Host name", server.hostname],
    ["Address", server.ip || "—"],
    ["Connection", online ? h("span.badge.ok", "online") : h("span.badge", "offline")],
    ["Status", enabledBadge(server)],
    ["Groups assigned", server.autoGroup === false ? "by hand" : "by host name"],
    ["Jobs at once", server.maxJobs ? String(server.maxJobs) : "no limit"],
    ["CPU load", serverLoad(server)],
    ["Memory", serverMemory(server)],
    ["Operating system", [os.platform, os.distro, os.release, os.arch].filter(Boolean).join(" ")],
    ["Booted", info.booted ? h("span", time(info.booted), " (", relative(info.booted), ")") : "—"],
    ["Uptime", info.booted ? duration(Date.now() / 1000 - info.booted) : "—"],
    ["Agent version", info.version || info.agent_version],
    ["Added", time(server.created)],
  ];
  if (sample && sample.memory && typeof sample.memory.total === "number") rows.push(["Memory (last sample)", bytes(sample.memory.total)]);
  return h("dl.kv", rows.filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => [h("dt", k), h("dd", v)]));
}

async function detailPage(root, ctx) {
  const id = ctx.params.id;
  const body = h("div", h("p.loading", "Loading…"));
  root.append(h("p.small", h("a", { href: "#/servers" }, "← All servers")), body);

  async function refresh() {
    let answer;
    let groups;
    try {
      [answer, groups] = await Promise.all([call("get_server", { id }), call("get_groups").then((b) => b.rows)]);
    } catch (error) {
      replace(body, pageHead("Server"), errorBox(error, "This server could not be loaded"));
      return;
    }
    if (!ctx.alive()) return;
    const server = answer.server;
    ctx.setTitle(server.title || server.hostname);
    const byId = Object.fromEntries(groups.map((g) => [g.id, g]));
    const actions = ctx.can("update_servers") ? [toggleButton(server, refresh)] : [];
    const running = h("div", h("p.loading", "Loading…"));
    const recent = h("div", h("p.loading", "Loading…"));
    replace(body,
      pageHead(server.title || server.hostname, ...actions),
      h("div.grid",
        h("section.panel", { "aria-labelledby": "server-info" }, h("h2", { id: "server-info" }, "About this server"), infoList(server, answer.data, answer.online)),
        h("section.panel", { "aria-labelledby": "server-groups" }, h("h2", { id: "server-groups" }, "Groups"), groupNames(server.groups, byId),
          h("h2", { id: "server-running" }, "Running now"), running)),
      h("section.panel", { "aria-labelledby": "server-recent" }, h("h2", { id: "server-recent" }, "Recent jobs"), recent));
    call("get_active_jobs", { server: id }).then(async (b) => {
      await eventTitles(b.rows.map((j) => j.event));
      return b;
    }).then((b) => replace(running, table([
      { title: "Job", cell: (j) => h("a", { href: `#/job/${encodeURIComponent(j.id)}` }, eventTitle(j)) },
      { title: "State", cell: (j) => h("span.badge.run", j.state) },
      { title: "Started", cell: (j) => relative(j.started) },
    ], b.rows, { empty: h("p.muted", "No jobs are running on this server.") })))
      .catch((error) => replace(running, errorBox(error)));
    call("search_jobs", { query: `server:${id}`, sort_by: "completed", limit: 10 }).then((b) => replace(recent, table([
      { title: "Job", cell: (j) => h("a", { href: `#/job/${encodeURIComponent(j.id)}` }, j.event_title || j.event || j.id) },
      { title: "Result", cell: (j) => outcomeBadge(j) },
      { title: "Ended", cell: (j) => time(j.completed) },
      { title: "Took", cell: (j) => duration(j.elapsed) },
    ], b.rows, { empty: h("p.muted", "No job has run on this server yet.") })))
      .catch((error) => replace(recent, errorBox(error)));
  }
  await refresh();
}

export default async function render(root, ctx) {
  root.classList.add("page-servers");
  if (ctx.params.id) await detailPage(root, ctx);
  else await listPage(root, ctx);
}
