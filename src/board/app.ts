// The merchandiser live board (runs in the browser; bundled by esbuild when first served).
// It uses only the public GraphQL API: one snapshot for the first paint, then
// subscriptions through the package's resumable client (src/client) from that
// snapshot's cursor, so no change is lost or shown twice across reconnects.
import { createLiveClient, type LiveClient } from '../client/index.js';
import { HOLDS } from '../domain.js';
import { sleep } from '../util.js';

interface Row {
  sku: string; title: string; category: string; available: number; reserved: number;
  holds: Set<string>; sales: { at: number; units: number }[]; el?: HTMLTableRowElement;
}

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const rows = new Map<string, Row>();
const keyInput = $<HTMLInputElement>('#key');
keyInput.value = localStorage.getItem('gateway-key') ?? '';
const auth = (): Record<string, string> => (keyInput.value ? { authorization: `Bearer ${keyInput.value.trim()}` } : {});

async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch('/graphql', {
    method: 'POST', headers: { 'content-type': 'application/json', ...auth() }, body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors?.length) throw new Error(`${body.errors[0].extensions?.code ?? ''} ${body.errors[0].message}`);
  return body.data as T;
}

function setStatus(state: 'connected' | 'reconnecting' | 'error', detail = '') {
  const el = $('#status');
  el.dataset.state = state;
  el.textContent = state === 'connected' ? 'connected' : state === 'reconnecting' ? 'reconnecting…' : `error: ${detail}`;
}

// ---- first paint: the catalog, then one decisionContext snapshot for all of it ----
/** SKUs on the board at once: one decisionContext reads them all from one snapshot. */
const PAGE = 500;
/** Set when the catalog has more than PAGE SKUs: search and category then filter on the server. */
let truncated = false;
const note = document.createElement('p');
note.id = 'truncated';
$('#rows').closest('table')!.before(note);

/** Paints the board and returns the snapshot's cursor, where the live feed continues. */
async function firstPaint(): Promise<string> {
  rows.clear();
  $('#rows').innerHTML = '';
  const filters = truncated ? { search: $<HTMLInputElement>('#search').value || null, category: $<HTMLSelectElement>('#category').value || null } : {};
  const { catalog: fetched } = await gql<{ catalog: { sku: string; title: string; category: string }[] }>(
    'query Board($search: String, $category: String, $limit: Int!) { catalog(search: $search, category: $category, limit: $limit) { sku title category } }',
    { ...filters, limit: PAGE + 1 });
  const catalog = fetched.slice(0, PAGE);
  if (fetched.length > PAGE) truncated = true;
  note.textContent = fetched.length > PAGE
    ? `Showing the first ${PAGE.toLocaleString()} matching SKUs (by SKU); more exist. Search or pick a category to see the others.`
    : '';
  const { decisionContext } = await gql<any>(`query BoardSnapshot($c: [ID!]!) {
    decisionContext(userId: "live-board", candidates: $c) {
      snapshot { cursor readAt }
      candidates { sku inventory { available reserved } velocity { salesLast5s salesLast5m } policy { kind } } } }`,
  { c: catalog.map((i) => i.sku) });
  const now = Date.now();
  catalog.forEach((item, i) => {
    const c = decisionContext.candidates[i];
    // Seed the sales history from the snapshot's windows so sparklines start right.
    const older = c.velocity.salesLast5m - c.velocity.salesLast5s;
    rows.set(item.sku, {
      ...item, available: c.inventory?.available ?? 0, reserved: c.inventory?.reserved ?? 0,
      holds: new Set(c.policy.map((p: { kind: string }) => p.kind)),
      sales: [...(older > 0 ? [{ at: now - 60_000, units: older }] : []), ...(c.velocity.salesLast5s > 0 ? [{ at: now, units: c.velocity.salesLast5s }] : [])],
    });
  });
  const picked = $<HTMLSelectElement>('#category').value;
  const categories = [...new Set([...catalog.map((i) => i.category), ...(picked ? [picked] : [])])].sort();
  $('#category').innerHTML = `<option value="">all categories</option>${categories.map((c) => `<option>${esc(c)}</option>`).join('')}`;
  $<HTMLSelectElement>('#category').value = picked;
  render();
  return decisionContext.snapshot.cursor;
}

// ---- live: subscriptions from the cursor, resubscribing from the last one seen ----
function subscribe(live: LiveClient, cursor: string) {
  // An expired cursor means starting over: a fresh first paint and fresh subscriptions
  // (start() disposes this client, so the cursor returned here is not used).
  const resync = () => start().then(() => cursor);
  const error = (err: Error) => setStatus('error', err.message);
  live.subscribe({
    query: 'subscription Stock($after: String) { inventoryChanged(after: $after) { cursor sku available reserved previous cause committedAt } }',
    after: cursor, resync,
  }, { next: onStock, error });
  live.subscribe({
    query: `subscription Flips($after: String) { policyFlipped(after: $after) {
      cursor active committedAt flag { scope target kind reason } } }`,
    after: cursor, resync,
  }, { next: onFlip, error });
}

function onStock(c: { cursor: string; sku: string; available: number; reserved: number | null; previous: number | null; cause: string; committedAt: string }) {
  const row = rows.get(c.sku);
  if (!row) return;
  const sold = (c.previous ?? c.available) - c.available;
  if (c.cause === 'PURCHASE' && sold > 0) row.sales.push({ at: Date.parse(c.committedAt), units: sold });
  row.available = c.available;
  if (c.reserved !== null) row.reserved = c.reserved; // a reservation alone can make a SKU unsellable
  renderRow(row, true);
}

function onFlip(f: { cursor: string; active: boolean; committedAt: string; flag: { scope: string; target: string; kind: string; reason: string | null } }) {
  for (const row of rows.values()) {
    const touches = (f.flag.scope === 'SKU' && f.flag.target === row.sku) || (f.flag.scope === 'CATEGORY' && f.flag.target === row.category);
    if (!touches) continue;
    if (f.active) row.holds.add(f.flag.kind); else row.holds.delete(f.flag.kind);
    renderRow(row, true);
  }
  const li = document.createElement('li');
  li.textContent = `${new Date(f.committedAt).toLocaleTimeString()} ${f.active ? 'SET' : 'LIFTED'} ${f.flag.kind} on ${f.flag.scope} ${f.flag.target}${f.flag.reason ? ` — ${f.flag.reason}` : ''}`;
  li.className = f.active ? 'on' : 'off';
  $('#flips').prepend(li);
  while ($('#flips').children.length > 50) $('#flips').lastElementChild!.remove();
}

// ---- rendering ----
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function windowSales(row: Row, ms: number) {
  const since = Date.now() - ms;
  return row.sales.reduce((sum, s) => sum + (s.at > since ? s.units : 0), 0);
}

function sparkline(row: Row): string {
  const now = Date.now();
  const buckets = Array.from({ length: 30 }, () => 0); // 30 × 10 s = 5 min
  for (const s of row.sales) {
    const b = Math.floor((now - s.at) / 10_000);
    if (b >= 0 && b < 30) buckets[29 - b]! += s.units;
  }
  const max = Math.max(1, ...buckets);
  const pts = buckets.map((v, i) => `${i * 3},${18 - (v / max) * 16}`).join(' ');
  return `<svg width="90" height="20" viewBox="0 0 90 20"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${pts}"/></svg>`;
}

function visible(row: Row): boolean {
  const q = $<HTMLInputElement>('#search').value.trim().toLowerCase();
  const cat = $<HTMLSelectElement>('#category').value;
  return (!cat || row.category === cat) && (!q || row.sku.toLowerCase().includes(q) || row.title.toLowerCase().includes(q));
}

function renderRow(row: Row, changed = false) {
  if (!row.el) {
    row.el = document.createElement('tr');
    row.el.dataset.sku = row.sku;
    $('#rows').append(row.el);
  }
  const sellable = row.available - row.reserved;
  const holds = HOLDS.map(([kind]) => {
    const on = row.holds.has(kind);
    return `<button data-kind="${kind}" data-active="${!on}">${on ? 'lift' : 'set'} ${kind.toLowerCase().replace('_', ' ')}</button>`;
  }).join(' ');
  row.el.innerHTML = `<td>${esc(row.sku)}</td><td>${esc(row.title)}</td><td>${esc(row.category)}</td>
    <td class="num available">${row.available}</td><td class="num">${windowSales(row, 5_000)}</td>
    <td class="num">${windowSales(row, 300_000)}</td><td>${sparkline(row)}</td>
    <td class="holds">${[...row.holds].map((h) => `<span class="tag">${h}</span>`).join(' ')}</td><td>${holds}</td>`;
  row.el.classList.toggle('zero', sellable < 1);
  row.el.hidden = !visible(row);
  if (changed) {
    row.el.classList.remove('flash');
    void row.el.offsetWidth; // restart the animation
    row.el.classList.add('flash');
  }
}

function render() {
  for (const row of rows.values()) renderRow(row);
}

// ---- controls ----
$('#rows').addEventListener('click', async (e) => {
  const button = (e.target as HTMLElement).closest('button');
  if (!button) return;
  const sku = button.closest('tr')!.dataset.sku!;
  const active = button.dataset.active === 'true';
  const reason = active ? prompt(`Reason for ${button.dataset.kind} on ${sku}?`) : null;
  if (active && reason === null) return;
  try {
    await gql(`mutation Hold($sku: ID!, $kind: PolicyKind!, $active: Boolean!, $reason: String) {
      setPolicyFlag(scope: SKU, target: $sku, kind: $kind, active: $active, reason: $reason) { active } }`,
    { sku, kind: button.dataset.kind, active, reason: reason || null });
  } catch (err) {
    alert(String(err));
  }
});
// Within one page the filters apply here; past it they go to the server (a new snapshot and feed).
let refilter: ReturnType<typeof setTimeout> | undefined;
const filterChanged = () => {
  render();
  if (!truncated) return;
  clearTimeout(refilter);
  refilter = setTimeout(() => void start(), 300);
};
$('#search').addEventListener('input', filterChanged);
$('#category').addEventListener('change', filterChanged);
keyInput.addEventListener('change', () => { localStorage.setItem('gateway-key', keyInput.value.trim()); start(); });
setInterval(render, 5_000); // windows slide even when nothing changes

let live: LiveClient | undefined;
let generation = 0;
/** (Re)starts the board: first paint, retried with backoff while the gateway is away, then the live feed. */
async function start(): Promise<void> {
  const mine = ++generation;
  void live?.dispose();
  live = undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const cursor = await firstPaint();
      if (mine !== generation) return;
      live = createLiveClient({
        url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
        connectionParams: () => auth(),
        on: { connected: () => setStatus('connected'), closed: () => setStatus('reconnecting') },
      });
      subscribe(live, cursor);
      return;
    } catch (err) {
      if (mine !== generation) return;
      setStatus('error', String(err));
      await sleep(Math.min(10_000, 500 * 2 ** attempt));
      if (mine !== generation) return;
    }
  }
}
void start();
