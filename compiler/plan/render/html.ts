// A self-contained HTML report: the service graph before and after as inline SVG (edges added
// green, removed red, changed amber), click an edge for its rules. No network access at all:
// styles, script and data are inline, so the artifact opens offline from a CI download.
import { htmlEscape } from '../../escape.js';
import { categoryTitle, changeCategories, type Change, type GraphEdge, type Plan } from '../model.js';
import { addressMoveText, afterText, decisionText, groupChanges, groupUseText, headline, revisionLabel } from './words.js';
import { externalRange, rangeWithin } from '../peers.js';

export type EdgeStatus = 'added' | 'removed' | 'changed' | 'same';

export interface ReportEdge {
  id: string;
  src: string;
  dst: string;
  status: EdgeStatus;
  before: string;
  after: string;
}

export const edgeColor: Record<EdgeStatus, string> = { added: '#1a7f37', removed: '#cf222e', changed: '#bf8700', same: '#afb8c1' };

/** The union of both graphs with a status per directed edge. */
export function reportEdges(before: readonly GraphEdge[], after: readonly GraphEdge[]): ReportEdge[] {
  const m = new Map<string, ReportEdge>();
  const key = (e: GraphEdge) => `${e.src} => ${e.dst}`;
  for (const e of before) m.set(key(e), { id: '', src: e.src, dst: e.dst, status: 'removed', before: e.conn, after: 'No Connections' });
  for (const e of after) {
    const b = m.get(key(e));
    if (!b) m.set(key(e), { id: '', src: e.src, dst: e.dst, status: 'added', before: 'No Connections', after: e.conn });
    else {
      b.after = e.conn;
      b.status = b.before === e.conn ? 'same' : 'changed';
    }
  }
  const edges = [...m.values()].sort((a, b) => (a.src + a.dst < b.src + b.dst ? -1 : 1));
  edges.forEach((e, i) => (e.id = `e${i}`));
  return edges;
}

const esc = htmlEscape;

function nsOf(name: string): string {
  return /\[External\]$|\[Entity\]$|\[FQDN\]$/.test(name) ? '~external' : name.split('/')[0]!;
}

const maxNodes = 160;

interface Layout {
  nodes: { name: string; x: number; y: number; angle: number }[];
  width: number;
  height: number;
  dropped: number;
}

/** Nodes on a circle, grouped by namespace (external peers last), so clusters read as arcs. */
function layout(edges: readonly ReportEdge[]): Layout {
  let names = [...new Set(edges.flatMap((e) => [e.src, e.dst]))];
  let dropped = 0;
  if (names.length > maxNodes) {
    // Keep the nodes that take part in a change; an unchanged edge is context only.
    const changed = new Set(edges.filter((e) => e.status !== 'same').flatMap((e) => [e.src, e.dst]));
    const keep = [...changed].slice(0, maxNodes);
    dropped = names.length - keep.length;
    names = keep;
  }
  names.sort((a, b) => (nsOf(a) + a < nsOf(b) + b ? -1 : 1));
  const n = Math.max(names.length, 1);
  const r = Math.max(160, n * 11);
  // Room for labels: wide beside the circle, one line above and below it.
  const width = 2 * r + 480;
  const height = 2 * r + 90;
  return {
    nodes: names.map((name, i) => {
      const angle = (2 * Math.PI * i) / n - Math.PI / 2;
      return { name, x: width / 2 + r * Math.cos(angle), y: height / 2 + r * Math.sin(angle), angle };
    }),
    width,
    height,
    dropped,
  };
}

function svg(edges: readonly ReportEdge[]): { svg: string; dropped: number } {
  const l = layout(edges);
  const pos = new Map(l.nodes.map((n) => [n.name, n]));
  const cx = l.width / 2;
  const cy = l.height / 2;
  const out: string[] = [];
  out.push(
    `<svg id="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${l.width.toFixed(0)} ${l.height.toFixed(0)}" role="img" aria-label="service graph before and after">`,
  );
  out.push('<defs>');
  for (const [s, col] of Object.entries(edgeColor))
    out.push(
      `<marker id="arrow-${s}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${col}"/></marker>`,
    );
  out.push('</defs>');
  // Unchanged edges first so changes are drawn on top.
  const order = [...edges].sort((a, b) => Number(a.status !== 'same') - Number(b.status !== 'same'));
  for (const e of order) {
    const a = pos.get(e.src);
    const b = pos.get(e.dst);
    if (!a || !b) continue;
    // Shorten the chord so the arrow head stops at the node circle; bend it toward the centre.
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const ex = b.x - (dx / len) * 9;
    const ey = b.y - (dy / len) * 9;
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    // Offset to the left of the direction of travel so a→b and b→a do not draw on top of each other.
    const qx = mx + (cx - mx) * 0.35 + (dy / len) * 14;
    const qy = my + (cy - my) * 0.35 - (dx / len) * 14;
    const d = `M${a.x.toFixed(1)},${a.y.toFixed(1)} Q${qx.toFixed(1)},${qy.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`;
    const title = `${e.src} => ${e.dst}: ${e.before} -> ${e.after}`;
    out.push(
      `<g class="edge edge-${e.status}" data-edge="${e.id}" data-status="${e.status}" data-src="${esc(e.src)}" data-dst="${esc(e.dst)}"><title>${esc(title)}</title>` +
        `<path class="hit" d="${d}" fill="none" stroke="transparent" stroke-width="12"/>` +
        `<path class="line" d="${d}" fill="none" stroke="${edgeColor[e.status]}" stroke-width="${e.status === 'same' ? 1.2 : 2.6}"${e.status === 'removed' ? ' stroke-dasharray="7 4"' : ''} marker-end="url(#arrow-${e.status})"/></g>`,
    );
  }
  for (const n of l.nodes) {
    // Horizontal labels read best: beside the node on the left and right, above or below it at
    // the top and bottom of the circle.
    const cos = Math.cos(n.angle);
    const sin = Math.sin(n.angle);
    const side = Math.abs(cos) > 0.35;
    const anchor = side ? (cos < 0 ? 'end' : 'start') : 'middle';
    const lx = n.x + (side ? cos * 14 : 0);
    const ly = n.y + (side ? sin * 14 : sin * 18);
    const external = nsOf(n.name) === '~external';
    out.push(
      `<g class="node" data-node="${esc(n.name)}"><circle cx="${n.x.toFixed(1)}" cy="${n.y.toFixed(1)}" r="7" fill="${external ? '#fff8c5' : '#ddf4ff'}" stroke="${external ? '#9a6700' : '#0969da'}" stroke-width="1.5"/>` +
        `<text x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" text-anchor="${anchor}" dominant-baseline="middle">${esc(n.name)}</text></g>`,
    );
  }
  out.push('</svg>');
  return { svg: out.join('\n'), dropped: l.dropped };
}

/** Details shown when an edge is clicked: its connection sets and the decision changes on it. */
interface EdgeDetail {
  src: string;
  dst: string;
  status: EdgeStatus;
  before: string;
  after: string;
  changes: { title: string; category: string; before: string; after: string; use: string; reason: string }[];
}

function ipIn(name: string, range: string): boolean {
  const a = externalRange(name);
  const b = externalRange(range);
  return !!a && !!b && rangeWithin(a, b);
}

function sideMatches(change: string, edge: string): boolean {
  return change === edge || ipIn(change, edge);
}

function details(edges: readonly ReportEdge[], changes: readonly Change[]): Record<string, EdgeDetail> {
  const out: Record<string, EdgeDetail> = {};
  for (const e of edges) {
    const cs = changes.filter((c) => sideMatches(c.src, e.src) && sideMatches(c.dst, e.dst));
    out[e.id] = {
      src: e.src,
      dst: e.dst,
      status: e.status,
      before: e.before,
      after: e.after,
      changes: groupChanges(cs)
        .slice(0, 50)
        .map((g) => ({
          title: g.title,
          category: categoryTitle[g.first.category],
          before: decisionText(g.first.before),
          after: afterText(g.first),
          use: groupUseText(g),
          reason: addressMoveText(g.first),
        })),
    };
  }
  return out;
}

const style = `
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;border-bottom:1px solid #d0d7de}h1{font-size:20px;margin:0 0 4px}
.breaking{background:#ffebe9;border:1px solid #cf222e;color:#82071e;padding:8px 12px;border-radius:6px;margin:8px 0;font-weight:600}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin-top:8px}.summary div{border:1px solid #d0d7de;border-radius:6px;padding:6px 10px}.summary b{font-size:18px;display:block}
main{display:flex;gap:0;align-items:flex-start}#graph-wrap{flex:1 1 auto;min-width:0;padding:8px}#graph{width:100%;height:auto;max-height:88vh}
#graph text{font-size:11px;fill:#1f2328}.edge{cursor:pointer}.edge:hover .line{stroke-width:4}.edge.selected .line{stroke-width:5}
aside{flex:0 0 380px;border-left:1px solid #d0d7de;padding:12px 16px;min-height:70vh;overflow-wrap:anywhere}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top;font-size:12px}
section{padding:8px 24px}code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
#detail .rule{margin:6px 0;padding:6px;border-left:3px solid #d0d7de;background:#f6f8fa}
`;

const script = `
(function(){
  var data = JSON.parse(document.getElementById('edge-data').textContent);
  var panel = document.getElementById('detail');
  function text(tag, s, cls){ var e = document.createElement(tag); e.textContent = s; if (cls) e.className = cls; return e; }
  function show(id){
    var d = data[id]; if (!d) return;
    document.querySelectorAll('.edge.selected').forEach(function(x){ x.classList.remove('selected'); });
    var g = document.querySelector('[data-edge="' + id + '"]'); if (g) g.classList.add('selected');
    panel.innerHTML = '';
    panel.appendChild(text('h3', d.src + ' \\u2192 ' + d.dst));
    panel.appendChild(text('p', 'Status: ' + d.status, 'status status-' + d.status));
    panel.appendChild(text('p', 'Before: ' + d.before));
    panel.appendChild(text('p', 'After: ' + d.after));
    if (d.changes.length === 0) panel.appendChild(text('p', 'No decision change on this edge' + (d.status === 'same' ? '.' : ' between existing workloads (a workload was added or removed).')));
    d.changes.forEach(function(c){
      var box = document.createElement('div'); box.className = 'rule';
      box.appendChild(text('div', c.category + ': ' + c.title));
      box.appendChild(text('div', 'before: ' + c.before));
      box.appendChild(text('div', 'after: ' + c.after));
      if (c.reason) box.appendChild(text('div', 'reason: ' + c.reason));
      if (c.use) box.appendChild(text('div', 'in use: ' + c.use));
      panel.appendChild(box);
    });
  }
  document.querySelectorAll('.edge').forEach(function(g){ g.addEventListener('click', function(){ show(g.getAttribute('data-edge')); }); });
})();
`;

export function renderHtml(p: Plan): string {
  const edges = reportEdges(p.graph.before, p.graph.after);
  const g = svg(edges);
  const data = JSON.stringify(details(edges, p.changes)).replace(/</g, '\\u003c');
  const s = p.summary;
  const card = (label: string, n: number | string) => `<div><b>${esc(String(n))}</b>${esc(label)}</div>`;
  const rows: string[] = [];
  for (const cat of changeCategories) {
    const cs = groupChanges(p.changes.filter((c) => c.category === cat));
    if (!cs.length) continue;
    rows.push(
      `<h3>${esc(categoryTitle[cat])} (${cs.length})</h3><table><tr><th>connection</th><th>before</th><th>after</th><th>in use</th></tr>`,
    );
    for (const g of cs.slice(0, 500))
      rows.push(
        `<tr><td>${g.breaking ? '&#9888; ' : ''}${esc(g.title)}</td><td>${esc(decisionText(g.first.before))}</td><td>${esc(afterText(g.first))}</td><td>${esc(groupUseText(g))}</td></tr>`,
      );
    rows.push('</table>');
  }
  const flows = p.flows
    ? `<section><h2>Observed flows</h2><p><b>${p.flows.wouldDrop}</b> of ${p.flows.evaluated} observed flows would now be dropped (${p.flows.malformed} malformed line(s), ${p.flows.skipped} skipped).</p>${
        p.flows.dropped.length
          ? `<table><tr><th>line</th><th>flow</th><th>now</th></tr>${p.flows.dropped.map((d) => `<tr><td>${d.line}</td><td>${esc(`${d.src} => ${d.dst} : ${d.protocol} ${d.port}${d.request ? ` ${d.request}` : ''}`)}</td><td>${esc(decisionText(d.after))}</td></tr>`).join('')}</table>`
          : ''
      }</section>`
    : '';
  const events = p.events
    ? `<section><h2>Observed process events</h2><p><b>${p.events.wouldKill}</b> of ${p.events.evaluated} observed events would now be killed.</p></section>`
    : '';
  const attach = p.runtimeAttach?.length
    ? `<section><h2>Runtime attach points on kernel functions (${p.runtimeAttach.length})</h2><table><tr><th>node</th><th>profile</th><th>policy</th><th>call</th><th>attach point</th><th>rule</th></tr>${p.runtimeAttach
        .slice(0, 2000)
        .map(
          (a) =>
            `<tr><td>${esc(a.node)}</td><td>${esc(a.profile)}</td><td>${esc(a.policy)}</td><td>${esc(a.call)}</td><td><code>${esc(a.attach)}</code></td><td>${esc(`${a.file}:${a.line}`)}</td></tr>`,
        )
        .join('')}</table></section>`
    : '';
  const notes = [...p.notes, ...(g.dropped ? [`${g.dropped} unchanged peer(s) left out of the graph to keep it readable.`] : [])];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>weir plan ${esc(revisionLabel(p.base))} → ${esc(revisionLabel(p.head))}</title><style>${style}</style></head>
<body><header><h1>weir plan: <code>${esc(revisionLabel(p.base))}</code> → <code>${esc(revisionLabel(p.head))}</code></h1>
${p.breaking ? `<div class="breaking">Breaking: ${s.breaking} change(s) deny or kill traffic that is in use.</div>` : ''}
${[p.base, p.head]
  .filter((r) => r.status === 'failed')
  .map((r) => `<div class="breaking">${r === p.base ? 'Base' : 'Head'} ${esc(r.ref)} failed with ${r.errors} error(s).</div>`)
  .join('')}
<div class="summary">${p.flows ? card('observed flows now dropped', p.flows.wouldDrop) : ''}${p.events ? card('observed events now killed', p.events.wouldKill) : ''}${card('newly denied', s.newlyDenied)}${card('newly allowed', s.newlyAllowed)}${card('changed L7', s.changedL7)}${card('changed audit/enforce', s.changedAudit)}${card('runtime changes', s.runtimeChanges)}</div>
<p>${esc(headline(p))}</p>
<div class="legend"><span><i style="background:${edgeColor.added}"></i>added</span><span><i style="background:${edgeColor.removed}"></i>removed</span><span><i style="background:${edgeColor.changed}"></i>changed</span><span><i style="background:${edgeColor.same}"></i>unchanged</span> Click an edge for its rules.</div>
</header>
<main><div id="graph-wrap">${g.svg}</div><aside id="detail"><p>Click an edge to see the connections before and after and the rules that decide them.</p></aside></main>
${flows}${events}
<section><h2>Changes</h2>${rows.join('\n') || '<p>No change in effective policy.</p>'}</section>
${attach}
${notes.length ? `<section>${notes.map((n) => `<p><i>${esc(n)}</i></p>`).join('')}</section>` : ''}
<script type="application/json" id="edge-data">${data}</script>
<script>${script}</script>
</body></html>
`;
}
