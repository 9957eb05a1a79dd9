// A small reader for the OpenAPI document: each operation with its parameters, body and
// answers, schemas resolved one level ($ref names shown). No third-party code.
(async () => {
  const spec = await (await fetch({{ spec_url|tojson }})).json();
  const el = (tag, attrs = {}, ...kids) => { const e = document.createElement(tag);
    Object.assign(e, attrs); kids.forEach(k => e.append(k)); return e; };
  const resolve = (o) => { while (o && o.$ref) { o = o.$ref.slice(2).split('/').reduce((a, k) => a[k], spec); } return o; };
  const show = (o) => JSON.stringify(o, (k, v) => v, 2);
  document.getElementById('title').textContent = spec.info.title + ' ' + spec.info.version;
  document.getElementById('about').textContent = spec.info.description || '';
  const ops = document.getElementById('ops'); ops.textContent = '';
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[method]; if (!op) continue;
      const body = el('div', {className: 'body'});
      body.append(el('p', {textContent: op.description || ''}));
      const params = [...(item.parameters || []), ...(op.parameters || [])].map(resolve);
      if (params.length) body.append(el('h4', {textContent: 'Parameters'}),
        el('ul', {}, ...params.map(p => el('li', {}, el('code', {textContent: p.name}), ` (${p.in}${p.required ? ', required' : ''}) `, p.description || ''))));
      if (op.requestBody) { const rb = resolve(op.requestBody);
        for (const [type, media] of Object.entries(rb.content)) body.append(el('h4', {textContent: 'Body: ' + type}), el('pre', {textContent: show(media.schema)})); }
      body.append(el('h4', {textContent: 'Answers'}));
      body.append(el('ul', {}, ...Object.entries(op.responses).map(([code, r]) => { r = resolve(r);
        return el('li', {}, el('code', {textContent: code}), ' ' + r.description + ' ', el('code', {textContent: Object.keys(r.content || {}).join(', ')})); })));
      const sec = (op.security || spec.security || []).map(s => Object.keys(s)).flat();
      ops.append(el('details', {className: 'op'}, el('summary', {}, el('span', {className: 'm ' + method, textContent: method}), el('code', {textContent: path}), ' — ' + (op.summary || '') + (sec.length ? ` [${sec.join(', ')}]` : '')), body));
    }
  }
})();
