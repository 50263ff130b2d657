"""The ``form/v1/<TOKEN>`` landing page of a magic link: a plain HTML form (the event's fields and
a file upload) that posts to ``magic/v1/<TOKEN>`` and then follows the job live through
``stream_job`` (progress and result) and ``stream_job_log`` (its log) until it completes. No external assets."""

from __future__ import annotations

import html
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem} label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text],textarea,select{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem} .note{color:#555;white-space:pre-wrap}
#status{margin-top:1.5rem} progress{width:100%} pre{background:#f4f4f4;padding:.6rem;max-height:20rem;overflow:auto}
.ok{color:#176f2c}.bad{color:#a31515}
"""

_SCRIPT = """
// times are shown in the reader's own zone and durations in words, never as raw epoch seconds
const when = (epoch) => new Date(epoch * 1000).toLocaleString();
const took = (s) => s < 10 ? s.toFixed(1) + ' s' : s < 60 ? Math.round(s) + ' s'
  : s < 3600 ? Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s'
  : Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
const form = document.getElementById('run');
const status = document.getElementById('status');
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  form.querySelector('button').disabled = true;
  status.innerHTML = '<p>Starting…</p>';
  let answer;
  try {
    const response = await fetch(form.action, {method: 'POST', body: new FormData(form)});
    answer = await response.json();
  } catch (err) { answer = {code: 'network', description: String(err)}; }
  if (answer.code !== 0) {
    status.innerHTML = '<p class="bad"></p>';
    status.firstChild.textContent = 'Could not start: ' + (answer.description || answer.code);
    form.querySelector('button').disabled = false;
    return;
  }
  status.innerHTML = '<p>Job <code></code> is running.</p><progress max="1"></progress><pre></pre><p id="result"></p>';
  status.querySelector('code').textContent = answer.id;
  const bar = status.querySelector('progress'), log = status.querySelector('pre');
  const query = '?id=' + encodeURIComponent(answer.id) + '&token=' + encodeURIComponent(answer.stream);
  const logStream = new EventSource('../../stream_job_log/v1' + query);
  logStream.addEventListener('log', (e) => { log.textContent += JSON.parse(e.data); log.scrollTop = log.scrollHeight; });
  logStream.addEventListener('end', () => logStream.close());
  const stream = new EventSource('../../stream_job/v1' + query);
  stream.addEventListener('update', (e) => {
    const d = JSON.parse(e.data);
    if (typeof d.started === 'number') status.querySelector('p').append(' Started ' + when(d.started) + '.');
    if (typeof d.progress === 'number') bar.value = d.progress;
    if (d.code === undefined) return;
    bar.value = 1;
    const result = document.getElementById('result');
    result.className = d.code === 0 ? 'ok' : 'bad';
    result.textContent = d.code === 0 ? 'Completed successfully.' : 'Failed (' + d.code + '): ' + (d.description || '');
    if (typeof d.elapsed === 'number' && typeof d.completed === 'number') {
      result.textContent += ' Took ' + took(d.elapsed) + ', finished ' + when(d.completed) + '.';
    }
  });
  stream.addEventListener('end', () => stream.close());
});
"""


def _field(definition: dict[str, Any]) -> str:
    field_id = str(definition.get("id"))
    name = html.escape(field_id, quote=True)
    title = html.escape(str(definition.get("title") or field_id))
    kind = definition.get("type")
    value = definition.get("value")
    required = " required" if definition.get("required") else ""
    if kind == "hidden":
        return ""
    if kind == "checkbox":
        checked = " checked" if value else ""
        return f'<label><input type="checkbox" name="{name}" value="true"{checked}> {title}</label>'
    if kind == "select":
        options = "".join(
            f"<option>{html.escape(o.strip())}</option>" for o in str(value or "").split(",") if o.strip()
        )
        return f'<label for="{name}">{title}</label><select id="{name}" name="{name}"{required}>{options}</select>'
    if kind in ("textarea", "code", "json"):
        text = html.escape(value if isinstance(value, str) else "" if value is None else str(value))
        return f'<label for="{name}">{title}</label><textarea id="{name}" name="{name}" rows="5"{required}>{text}</textarea>'
    text = html.escape("" if value is None else str(value), quote=True)
    return f'<label for="{name}">{title}</label><input type="text" id="{name}" name="{name}" value="{text}"{required}>'


def render_form(event: dict[str, Any], trigger: dict[str, Any], token: str) -> str:
    title = html.escape(str(event.get("title") or event["id"]))
    notes = str(trigger.get("body") or event.get("notes") or "")
    fields = "".join(_field(f) for f in event.get("fields") or [] if isinstance(f, dict) and f.get("id"))
    action = "../../magic/v1/" + html.escape(token, quote=True)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title><style>{_STYLE}</style></head>
<body><h1>{title}</h1>
<div class="note">{html.escape(notes)}</div>
<form id="run" method="post" action="{action}" enctype="multipart/form-data">
{fields}
<label for="files">Files (optional)</label><input type="file" id="files" name="file" multiple>
<button type="submit">Run</button>
</form>
<div id="status"></div>
<script>{_SCRIPT}</script>
</body></html>
"""
