// What a job reported: output data, table, HTML report, files, action results, the meta log.
import { h } from "../dom.js";
import { time, bytes, duration } from "../format.js";
import { table, emptyState } from "../components.js";

// the server already sanitized the HTML (engine/jobs/render.py); the page rebuilds it from this
// list again, as fresh elements (no markup is ever assigned, no inline style attribute parsed)
const TAGS = new Set(("address article aside footer header h1 h2 h3 h4 h5 h6 hgroup main nav section blockquote dd div dl dt "
  + "figcaption figure hr li ol p pre ul a abbr b bdi bdo br cite code data dfn em i kbd mark q rb rp rt rtc ruby s samp "
  + "small span strong sub sup time u var wbr caption col colgroup table tbody td tfoot th thead tr").split(" "));
// no "class": report markup must not borrow the app's own styles
const ATTRIBUTES = new Set(["title", "colspan", "rowspan", "align", "lang", "dir", "datetime", "cite", "abbr", "scope", "span", "start", "reversed", "value"]);
// style properties a report may not set: nothing may leave the report's box (cover the page)
const FORBIDDEN_STYLE = /^(position|z-index|inset|top|right|bottom|left|transform|translate|scale|rotate|float|clip|clip-path|mask|filter|backdrop-filter|pointer-events|content|cursor|zoom|contain)/;
const STYLE_MARK = "data-cw-style";

/** Style attributes renamed before parsing: a parsed style attribute counts as inline style for
 * the page's Content-Security-Policy (a console error), even in an inert document. The HTML is
 * the server's sanitized rendering, where "<" and ">" in text are escaped: only tags match. */
function markStyles(html) {
  return html.replace(/<[a-zA-Z][^<>]*>/g, (tag) => tag.replace(/(\s)style(\s*=)/gi, `$1${STYLE_MARK}$2`));
}

function safeStyle(el, text) {
  const probe = document.createElement("span").style;
  probe.cssText = text; // CSSOM: allowed by the policy, unlike a style attribute in markup
  for (let i = 0; i < probe.length; i += 1) {
    const name = probe[i];
    if (!FORBIDDEN_STYLE.test(name)) el.style.setProperty(name, probe.getPropertyValue(name));
  }
}

/** The job's sanitized HTML report as DOM nodes, inside a box it cannot leave. */
export function htmlReport(content) {
  const parsed = new DOMParser().parseFromString(markStyles(String(content || "")), "text/html");
  const out = h("div.job-html");
  copyChildren(parsed.body, out, 0);
  return out;
}

function copyChildren(from, to, depth) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.append(document.createTextNode(node.data));
    } else if (node.nodeType === Node.ELEMENT_NODE && depth < 64) {
      const tag = node.tagName.toLowerCase();
      if (!TAGS.has(tag)) {
        if (tag !== "script" && tag !== "style") copyChildren(node, to, depth + 1);
        continue;
      }
      const el = document.createElement(tag);
      for (const attr of node.attributes) {
        const name = attr.name.toLowerCase();
        if (ATTRIBUTES.has(name)) el.setAttribute(name, attr.value);
        else if (name === "href" && tag === "a" && /^(https?:|mailto:|\/|#|\.)/i.test(attr.value.trim())) {
          el.setAttribute("href", attr.value.trim());
          el.setAttribute("rel", "noopener noreferrer");
          el.setAttribute("target", "_blank");
        } else if (name === STYLE_MARK) {
          safeStyle(el, attr.value);
        }
      }
      copyChildren(node, el, depth + 1);
      to.append(el);
    }
  }
}

/** A value of a table cell or data field as text. */
function cellText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The plugin's table {title, header, rows, caption}. */
export function jobTable(spec) {
  const rows = Array.isArray(spec.rows) ? spec.rows : [];
  const header = Array.isArray(spec.header) ? spec.header : [];
  const width = Math.max(header.length, ...rows.map((r) => (Array.isArray(r) ? r.length : 1)));
  const columns = Array.from({ length: width }, (_, i) => ({
    title: header[i] !== undefined ? cellText(header[i]) : "",
    cell: (row) => cellText(Array.isArray(row) ? row[i] : i === 0 ? row : ""),
  }));
  return h("div",
    spec.title ? h("h3", cellText(spec.title)) : null,
    table(columns, rows, { empty: h("p.muted", "The table has no rows.") }),
    spec.caption ? h("p.muted.small", cellText(spec.caption)) : null);
}

/** Output files: links to /files/... */
export function filesTable(files, { canDelete = false, onDelete = null } = {}) {
  return table([
    { title: "File", cell: (f) => h("a", { href: `/${String(f.path || "").replace(/^\/+/, "")}`, download: f.filename || "" }, f.filename || f.path) },
    { title: "Size", cell: (f) => bytes(f.size) },
    { title: "Date", cell: (f) => time(f.date) },
    ...(canDelete && onDelete ? [{ title: "", cell: (f) => h("button.btn.btn-small.btn-danger", { type: "button", onclick: () => onDelete(f) }, "Delete") }] : []),
  ], files);
}

function codeBadge(code) {
  if (code === undefined) return h("span.badge", "not run");
  if (code === 0 || code === "0") return h("span.badge.ok", "success");
  return h("span.badge.err", `error (${cellText(code)})`);
}

/** Results of the job's actions (and limits): only entries that ran carry a code. */
export function actionsTable(actions) {
  return table([
    { title: "When", cell: (a) => cellText(a.condition || (a.type && a.limit ? "limit" : "")) },
    { title: "Action", cell: (a) => actionName(a) },
    { title: "Result", cell: (a) => codeBadge(a.code) },
    { title: "Details", cell: (a) => h("span", cellText(a.description || ""), a.elapsed_ms !== undefined ? h("span.muted.small", ` (${duration(a.elapsed_ms / 1000)})`) : null) },
    { title: "Ran", cell: (a) => time(a.date) },
  ], actions);
}

function actionName(a) {
  const type = cellText(a.type);
  const target = a.web_hook || a.event_id || a.channel_id || a.plugin_id || (Array.isArray(a.users) ? a.users.join(", ") : "") || a.email || "";
  return target ? `${type}: ${cellText(target)}` : type;
}

/** The meta log (activity rows). */
export function metaLog(rows) {
  return table([
    { title: "Time", cell: (r) => time(r.epoch, { seconds: true }) },
    { title: "Message", cell: (r) => cellText(r.msg) },
  ], rows, { empty: emptyState("No notes", "The job recorded no notes.") });
}

/** Output data as pretty JSON text. */
export function dataBlock(data) {
  return h("pre.job-data", { tabindex: "0", "aria-label": "Output data" }, JSON.stringify(data, null, 2));
}
