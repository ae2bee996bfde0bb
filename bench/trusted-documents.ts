// `npm run bench:documents`: what a trusted document's hash saves per decision. One gateway process with
// TRUSTED_DOCUMENTS=allow serves the same 50-candidate decision three ways, alternating in rounds:
//   text        the query text, the same every time (yoga's parse/validate cache hits after the first)
//   textUnique  the query text made unique per request by a comment (every request parses and validates)
//   hash        extensions.persistedQuery.sha256Hash only (parse and validate skipped: done at load)
// Reports decisions/s, p50 and the gateway's CPU ms per decision for each, and the same document's
// parse + validate cost in this process (µs), then writes bench/results/documents-<date>.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, validate } from 'graphql';
import { buildManifest } from '../src/plugins/trusted-documents.js';
import { schema } from '../src/schema/index.js';
import {
  benchDatabase, closeHttpAgent, cpuSnapshot, decisionQuery, httpPost, machine, percentile, seedCatalog, skuName, startGateway,
} from './setup.js';

const ROUND_S = Number(process.env.BENCH_ROUND_SECONDS || 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS || 8);
const CANDIDATES = 50;

const QUERY = decisionQuery('BenchDecision');

type Mode = 'text' | 'textUnique' | 'hash';
const MODES: Mode[] = ['text', 'textUnique', 'hash'];

const manifest = buildManifest([{ file: 'bench', text: QUERY }], schema);
const entry = manifest.operations[0]!;

let n = 0;
function body(mode: Mode): string {
  const i = n++;
  const start = (i * 13) % 200;
  const variables = { u: `user-${i % 200}`, s: `session-${i % 200}`, c: Array.from({ length: CANDIDATES }, (_, k) => skuName((start + k) % 200)), r: 'berlin' };
  if (mode === 'hash') return JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: entry.id } }, variables });
  return JSON.stringify({ query: mode === 'text' ? entry.body : `# ${i}\n${entry.body}`, variables });
}

async function round(url: string, mode: Mode, gatewayPid: number) {
  const lat: number[] = [];
  let errors = 0;
  const until = Date.now() + ROUND_S * 1000;
  const cpu0 = cpuSnapshot().get(gatewayPid)?.cpuS ?? 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (Date.now() < until) {
      const t = performance.now();
      const r = await httpPost(url, body(mode));
      if (r.status === 200 && !r.body.includes('"errors"')) lat.push(performance.now() - t); else errors++;
    }
  }));
  const cpuS = (cpuSnapshot().get(gatewayPid)?.cpuS ?? 0) - cpu0;
  return { count: lat.length, errors, lat, cpuS };
}

function inProcess() {
  const time = (f: () => void, reps = 2000) => {
    for (let i = 0; i < 200; i++) f();
    const t = performance.now();
    for (let i = 0; i < reps; i++) f();
    return ((performance.now() - t) / reps) * 1000;
  };
  const doc = parse(entry.body);
  const documents = new Map([[entry.id, doc]]);
  return {
    parseUs: Math.round(time(() => parse(entry.body)) * 10) / 10,
    validateUs: Math.round(time(() => validate(schema, doc)) * 10) / 10,
    lookupUs: Math.round(time(() => documents.get(entry.id), 200_000) * 1000) / 1000,
  };
}

const db = await benchDatabase();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-documents-'));
const manifestFile = path.join(dir, 'manifest.json');
fs.writeFileSync(manifestFile, JSON.stringify(manifest));
try {
  await seedCatalog(db.sql);
  const gw = await startGateway(db.url, { TRUSTED_DOCUMENTS: 'allow', TRUSTED_DOCUMENTS_MANIFEST: manifestFile });
  try {
    for (const mode of MODES) await round(gw.url, mode, gw.pid); // warm-up: JIT, caches, connections
    const totals = Object.fromEntries(MODES.map((m) => [m, { count: 0, errors: 0, lat: [] as number[], cpuS: 0, seconds: 0 }]));
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order each round, so no mode always follows another.
      for (const mode of MODES.map((_, k) => MODES[(k + r) % MODES.length]!)) {
        const got = await round(gw.url, mode, gw.pid);
        const t = totals[mode]!;
        t.count += got.count; t.errors += got.errors; t.lat.push(...got.lat); t.cpuS += got.cpuS; t.seconds += ROUND_S;
        console.log(`round ${r + 1} ${mode.padEnd(10)} ${(got.count / ROUND_S).toFixed(0)} decisions/s, ${(got.cpuS * 1000 / Math.max(1, got.count)).toFixed(2)} gateway CPU ms/decision`);
      }
    }
    const results = Object.fromEntries(MODES.map((m) => {
      const t = totals[m]!;
      t.lat.sort((a, b) => a - b);
      return [m, {
        decisionsPerS: Math.round(t.count / t.seconds), p50Ms: Math.round(percentile(t.lat, 50) * 100) / 100,
        p99Ms: Math.round(percentile(t.lat, 99) * 100) / 100, gatewayCpuMsPerDecision: Math.round((t.cpuS * 1000 / t.count) * 1000) / 1000,
        count: t.count, errors: t.errors,
      }];
    })) as Record<Mode, { decisionsPerS: number; p50Ms: number; p99Ms: number; gatewayCpuMsPerDecision: number; count: number; errors: number }>;
    const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
    const out = {
      benchmark: 'trusted documents: hash vs text, one gateway, alternating rounds',
      at: new Date().toISOString(), machine: machine(), loadAverage: os.loadavg(), pg: db.pgVersion,
      config: { roundSeconds: ROUND_S, rounds: ROUNDS, clients: CLIENTS, candidates: CANDIDATES },
      inProcess: inProcess(),
      results,
      ratios: {
        cpuPerDecision_hash_over_text: ratio(results.hash.gatewayCpuMsPerDecision, results.text.gatewayCpuMsPerDecision),
        cpuPerDecision_hash_over_textUnique: ratio(results.hash.gatewayCpuMsPerDecision, results.textUnique.gatewayCpuMsPerDecision),
        throughput_hash_over_text: ratio(results.hash.decisionsPerS, results.text.decisionsPerS),
        throughput_hash_over_textUnique: ratio(results.hash.decisionsPerS, results.textUnique.decisionsPerS),
      },
    };
    console.log(JSON.stringify({ inProcess: out.inProcess, results, ratios: out.ratios }, null, 2));
    fs.mkdirSync('bench/results', { recursive: true });
    const file = `bench/results/documents-${new Date().toISOString().slice(0, 10)}.json`;
    fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${file}`);
  } finally {
    await gw.stop();
  }
} finally {
  closeHttpAgent();
  fs.rmSync(dir, { recursive: true, force: true });
  await db.close();
}
