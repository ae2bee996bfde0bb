// `npm start` failing to start, as a real process: it exits non-zero within
// seconds with one line naming the setting to change, leaves no PostgreSQL of its
// own running, and never prints a password. And the start's own notes: which
// database is in use (password masked), and that an empty one wants `npm run seed`.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbedded } from '../src/db/embedded.js';
import { freePort } from './global-setup.js';
import { ownDatabase } from './helpers.js';
import { sleep } from './live-helpers.js';

const dirs: string[] = [];
const dataDir = (tag: string) => {
  const dir = path.resolve('.data', `startup-${tag}-${process.pid}-${Date.now()}`);
  dirs.push(dir);
  return dir;
};
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

const SECRET = 'pw-Zq7-never-logged';

interface Run { code: number | null; ms: number; stdout: string; stderr: string }

/** Runs `npm start`'s command to its end (or kills it after `limitMs`, which then fails the test). */
function run(env: Record<string, string>, limitMs = 30_000): Promise<Run> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => child.on('exit', (code) => {
    clearTimeout(killer);
    resolve({ code, ms: Date.now() - t0, stdout, stderr });
  }));
}

/** Postgres server processes whose command line matches, e.g. their port or data directory. */
function postgresProcesses(match: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => /\/postgres\s/.test(l) && l.includes(match));
}

async function noPostgres(match: string): Promise<void> {
  for (let i = 0; i < 30 && postgresProcesses(match).length > 0; i++) await sleep(100);
  expect(postgresProcesses(match)).toEqual([]);
}

/** A failed start: non-zero, in seconds, one line on stderr naming the setting, no stack trace. */
function expectFailure(r: Run, setting: string, others: string[] = []): string {
  expect(r.code, `${r.stdout}${r.stderr}`).not.toBe(0);
  expect(r.code).not.toBeNull(); // null: it hung past the 30 s limit and was killed (no timing is asserted beyond that)
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^gateway failed to start: /);
  expect(lines[0]).toContain(setting);
  for (const other of others) expect(lines[0]).not.toContain(other);
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/\n\s+at /); // no stack
  return lines[0]!;
}

function listen(port: number, host = '0.0.0.0'): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

describe('a start that cannot succeed', () => {
  it('PORT in use: names PORT and starts no embedded PostgreSQL', async () => {
    const port = await freePort();
    const pgPort = await freePort();
    const dir = dataDir('port');
    const blocker = await listen(port);
    try {
      const r = await run({ PORT: String(port), DATA_DIR: dir, EMBEDDED_PG_PORT: String(pgPort) });
      expectFailure(r, `PORT ${port}`, ['DATA_DIR', 'DATABASE_URL']);
      expect(r.stdout + r.stderr).not.toContain('Internal error emitted on the WebSocket server');
    } finally {
      blocker.close();
    }
    await noPostgres(dir);
  });

  it('an unreachable DATABASE_URL (connection refused): names DATABASE_URL, password masked', async () => {
    const closed = await freePort();
    const r = await run({ PORT: String(await freePort()), DATABASE_URL: `postgres://gw:${SECRET}@127.0.0.1:${closed}/gw` });
    const line = expectFailure(r, 'DATABASE_URL');
    expect(line).toContain(`postgres://gw:***@127.0.0.1:${closed}/gw`);
    expect(line).toMatch(/ECONNREFUSED/);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('a malformed DATABASE_URL: names DATABASE_URL, and its password appears nowhere', async () => {
    const r = await run({ PORT: String(await freePort()), DATABASE_URL: `postgres://gw:${SECRET}@127.0.0.1:notaport/gw` });
    expectFailure(r, 'DATABASE_URL');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    const scheme = await run({ PORT: String(await freePort()), DATABASE_URL: `mysql://gw:${SECRET}@127.0.0.1/gw` });
    expectFailure(scheme, 'DATABASE_URL');
    expect(scheme.stdout + scheme.stderr).not.toContain(SECRET);
  });

  it('a DATA_DIR in use by another running embedded server: names DATA_DIR, leaves that server alone, starts none', async () => {
    const dir = dataDir('dir');
    const holder = await startEmbedded({ dataDir: dir, port: await freePort() });
    const pgPort = await freePort();
    try {
      const r = await run({ PORT: String(await freePort()), DATA_DIR: dir, EMBEDDED_PG_PORT: String(pgPort) });
      expectFailure(r, `DATA_DIR ${dir}`, ['EMBEDDED_PG_PORT', 'DATABASE_URL']);
      await noPostgres(`-p ${pgPort}`);
      expect(postgresProcesses(`-p ${holder.port}`)).toHaveLength(1);
    } finally {
      await holder.stop();
    }
  });

  it('EMBEDDED_PG_PORT taken by another program: names EMBEDDED_PG_PORT', async () => {
    const pgPort = await freePort();
    const dir = dataDir('pgport');
    const blocker = await listen(pgPort, '127.0.0.1');
    try {
      const r = await run({ PORT: String(await freePort()), DATA_DIR: dir, EMBEDDED_PG_PORT: String(pgPort) });
      expectFailure(r, `EMBEDDED_PG_PORT ${pgPort}`, ['DATABASE_URL']);
    } finally {
      blocker.close();
    }
    await noPostgres(dir);
  });
});

describe('a start that succeeds', () => {
  it('logs the database in use with its password masked, and that an empty one wants `npm run seed`', async () => {
    const db = await ownDatabase();
    const url = new URL(db.url);
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    for (let i = 0; i < 300 && !out.includes('gateway ready'); i++) await sleep(100);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await db.drop();
    const masked = `postgres://${url.username}${url.password ? ':***' : ''}@${url.host}${url.pathname}`;
    const lines = out.split('\n').filter(Boolean);
    expect(lines.find((l) => l.includes('using the database'))).toContain(masked);
    if (url.password) expect(out).not.toContain(`:${url.password}@`);
    expect(lines.some((l) => /no items/.test(l) && l.includes('npm run seed'))).toBe(true);
  });
});
