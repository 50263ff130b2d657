// What the dashboard shows, fetched from the public API (no endpoint of its own).
import { call } from "../api.js";

export const RUNNING_STATES = new Set(["starting", "active", "finishing", "suspended"]);
export const DAY_S = 86400;

const titles = new Map();

/** Event titles by id, looked up once per id (get_events filtered by id). */
export async function eventTitles(ids) {
  const missing = [...new Set(ids)].filter((id) => id && !titles.has(id));
  await Promise.all(missing.map(async (id) => {
    try {
      const body = await call("get_events", { id });
      titles.set(id, body.rows[0] ? body.rows[0].title : null);
    } catch {
      titles.set(id, null);
    }
  }));
  return titles;
}

export function eventTitle(job) {
  if (job.event_title) return job.event_title;
  if (!job.event) return "Ad-hoc job";
  return titles.get(job.event) || job.event;
}

/** Unfinished jobs split into running and waiting (queued, ready, delayed). */
export async function activeJobs() {
  const body = await call("get_active_jobs", { sort_by: "started", sort_dir: 1 });
  const rows = body.rows || [];
  await eventTitles(rows.map((j) => j.event));
  return {
    running: rows.filter((j) => RUNNING_STATES.has(j.state)),
    waiting: rows.filter((j) => !RUNNING_STATES.has(j.state)),
  };
}

export async function servers() {
  return (await call("get_active_servers")).rows || [];
}

/** The next scheduled runs across all events (Cronwright extension get_upcoming_runs). */
export async function upcoming(limit = 6) {
  const body = await call("get_upcoming_runs", { suppressed: false, hours: 24, limit });
  return body.rows || [];
}

/** Jobs that ended with an error (any non-zero code) in the last 24 hours, newest first. */
export async function failures(now = Date.now() / 1000, limit = 10) {
  const since = Math.floor(now - DAY_S);
  const body = await call("search_jobs", {
    query: `tags:_error date:>=${since}`,
    sort_by: "completed",
    sort_dir: -1,
    limit: limit + 5,
    select: ["id", "event", "event_title", "code", "description", "completed", "elapsed", "server", "state", "final"],
  });
  // date terms match whole hours: drop what completed before the cut-off
  const fetched = body.rows || [];
  const rows = fetched.filter((j) => !j.completed || j.completed >= since);
  const total = body.list ? body.list.length : fetched.length;
  // every match fetched: count exactly; else the total (it may include up to an hour more)
  return { rows: rows.slice(0, limit), total: total <= fetched.length ? rows.length : total };
}

/** How many events the caller may see (get_events counts before its filters). */
export async function eventCount() {
  const body = await call("get_events", { id: "_" });
  return body.list ? body.list.length : 0;
}
