// GET /docs: an interactive API reference built in the browser from /openapi.json. Self-contained (inline script
// and style, nothing fetched from elsewhere): a ledger may run where the internet is out of reach, and a page that
// pulled its code from a CDN would be code the operator never vetted.
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Proofstream API reference</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafafa}
header{padding:12px 20px;background:#1b1f24;color:#fff;display:flex;gap:16px;align-items:center}
header input{flex:1;max-width:420px;padding:6px 8px;border-radius:4px;border:0}
main{padding:12px 20px;max-width:1100px}
h2{font-size:15px;margin:22px 0 6px;text-transform:uppercase;color:#555}
details{background:#fff;border:1px solid #ddd;border-radius:5px;margin:5px 0}
summary{cursor:pointer;padding:7px 10px;font-family:ui-monospace,monospace}
.m{display:inline-block;width:62px;font-weight:700}.get{color:#0a7}.post{color:#06c}.put{color:#a60}.delete{color:#c22}
.s{font-family:system-ui,sans-serif;color:#555;margin-left:8px}
.b{padding:4px 14px 12px}pre{background:#f3f3f3;padding:8px;overflow:auto;max-height:360px;font-size:12px}
label{display:block;margin:4px 0}label input,textarea{font-family:ui-monospace,monospace;width:100%;box-sizing:border-box}
button{margin-top:6px;padding:5px 12px}
</style></head><body>
<header><strong>Proofstream API</strong><input id="q" placeholder="filter (path, summary, tag)" aria-label="filter">
<input id="key" type="password" placeholder="API key for Try it (kept in this page only)" aria-label="API key"></header>
<main id="out">Loading <a href="/openapi.json">/openapi.json</a>…</main>
<script>
(async () => {
  const out = document.getElementById('out');
  const spec = await (await fetch('/openapi.json')).json();
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  const deref = (o, seen = 0) => (o && o.$ref && seen < 20 ? deref(o.$ref.split('/').slice(1).reduce((a, k) => a?.[k], spec), seen + 1) : o);
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths || {}))
    for (const [method, op] of Object.entries(item))
      if (['get', 'post', 'put', 'delete', 'patch'].includes(method)) ops.push({ path, method, op, tag: (op.tags || ['other'])[0] });
  function render(filter) {
    const f = filter.toLowerCase();
    const byTag = {};
    for (const o of ops) {
      if (f && !(o.path + ' ' + (o.op.summary || '') + ' ' + o.tag).toLowerCase().includes(f)) continue;
      (byTag[o.tag] ||= []).push(o);
    }
    out.innerHTML = '<p>' + esc(spec.info?.title) + ' ' + esc(spec.info?.version) + ' — ' + esc(spec.info?.description) + ' Source: <a href="/openapi.json">/openapi.json</a></p>' +
      Object.entries(byTag).map(([tag, list]) => '<h2>' + esc(tag) + '</h2>' + list.map((o, i) => {
        const params = (o.op.parameters || []).map(deref);
        const body = deref(o.op.requestBody)?.content?.['application/json']?.schema;
        const id = esc(o.method + o.path);
        return '<details data-id="' + id + '"><summary><span class="m ' + o.method + '">' + o.method.toUpperCase() + '</span>' + esc(o.path) +
          '<span class="s">' + esc(o.op.summary) + '</span></summary><div class="b">' +
          (o.op.description ? '<p>' + esc(o.op.description) + '</p>' : '') +
          params.map((p) => '<label>' + esc(p.in) + ' <b>' + esc(p.name) + '</b>' + (p.required ? ' (required)' : '') +
            '<input data-in="' + esc(p.in) + '" data-name="' + esc(p.name) + '"></label>').join('') +
          (body ? '<p>Request body schema</p><pre>' + esc(JSON.stringify(deref(body), null, 2)) + '</pre><label>Body<textarea rows="5" data-body></textarea></label>' : '') +
          '<p>Responses</p><pre>' + esc(Object.entries(o.op.responses || {}).map(([s, r]) => s + ': ' + (deref(r)?.description || '')).join('\\n')) + '</pre>' +
          '<button data-try>Try it</button><pre data-result hidden></pre></div></details>';
      }).join('')).join('');
  }
  out.addEventListener('click', async (ev) => {
    if (!ev.target.matches('[data-try]')) return;
    const d = ev.target.closest('details');
    const o = ops.find((x) => x.method + x.path === d.dataset.id);
    let url = o.path;
    const qs = new URLSearchParams();
    const headers = {};
    for (const i of d.querySelectorAll('input[data-in]')) {
      if (!i.value) continue;
      if (i.dataset.in === 'path') url = url.replace('{' + i.dataset.name + '}', encodeURIComponent(i.value));
      else if (i.dataset.in === 'query') qs.set(i.dataset.name, i.value);
      else if (i.dataset.in === 'header') headers[i.dataset.name] = i.value;
    }
    const key = document.getElementById('key').value;
    if (key) headers.authorization = 'Bearer ' + key;
    const b = d.querySelector('[data-body]');
    if (b && b.value) headers['content-type'] = 'application/json';
    const res = await fetch(url + (qs.size ? '?' + qs : ''), { method: o.method.toUpperCase(), headers, body: b && b.value ? b.value : undefined });
    const pre = d.querySelector('[data-result]');
    pre.hidden = false;
    pre.textContent = res.status + ' ' + res.statusText + '\\n\\n' + (await res.text());
  });
  document.getElementById('q').addEventListener('input', (e) => render(e.target.value));
  render('');
})().catch((e) => { document.getElementById('out').textContent = 'could not load /openapi.json: ' + e; });
</script></body></html>
`;
