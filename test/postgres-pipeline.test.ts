// The driver patch behind a one-round-trip decision (patches/postgres+3.4.9.patch,
// `sql.begin(options, fn, { pipeline: true })`): the transaction's statements leave
// right behind BEGIN, the result does not wait for COMMIT, and neither costs safety.
// A proxy between driver and server holds the server's answers, so each property is
// an ordering, not a timing.
import net from 'node:net';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, expect, inject, it } from 'vitest';

const READ_ONLY = 'isolation level repeatable read read only';

/** A TCP proxy to the test database that records what the client sent and can hold the server's answers. */
class Proxy {
  private server = net.createServer((client) => this.connect(client));
  private held: (() => void)[] = [];
  private sockets = new Set<net.Socket>();
  sent = '';
  /** Server→client bytes matching this are held until release(); undefined: nothing is held. */
  hold: RegExp | undefined;
  /** Client→server bytes matching this end the connection instead (once), as a killed backend would. */
  dropOn: RegExp | undefined;
  /** Client→server bytes matching this reset the client's socket instead (once): ECONNRESET, as a failover can. */
  resetOn: RegExp | undefined;
  port = 0;

  constructor(private target: URL) {}

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  url() {
    const u = new URL(this.target);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private connect(client: net.Socket) {
    const upstream = net.connect(Number(this.target.port || 5432), this.target.hostname === 'localhost' ? '127.0.0.1' : this.target.hostname);
    this.sockets.add(client).add(upstream);
    client.on('data', (d) => {
      this.sent += d.toString('latin1');
      if (this.dropOn?.test(d.toString('latin1'))) {
        this.dropOn = undefined;
        upstream.destroy();
        client.end(terminated()); // what pg_terminate_backend sends before it closes
        return;
      }
      if (this.resetOn?.test(d.toString('latin1'))) {
        this.resetOn = undefined;
        upstream.destroy();
        client.resetAndDestroy();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (this.hold?.test(d.toString('latin1'))) this.held.push(() => client.write(d));
      else if (this.held.length) this.held.push(() => client.write(d)); // keep the server's order
      else client.write(d);
    });
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }

  release() {
    this.hold = undefined;
    for (const send of this.held.splice(0)) send();
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Resolves true once `cond` holds, false if it does not within `ms` (the only clock here: a bound, not a measurement). */
async function eventually(cond: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

const settled = <T>(p: Promise<T>) => {
  const state = { done: false, value: undefined as T | undefined, error: undefined as unknown };
  p.then((v) => { state.done = true; state.value = v; }, (e) => { state.done = true; state.error = e; });
  return state;
};

/** The ErrorResponse a backend sends when pg_terminate_backend ends it. */
function terminated(): Buffer {
  const fields = Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0', 'latin1');
  const head = Buffer.alloc(5);
  head.write('E', 0, 'latin1');
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

let proxy: Proxy;
let sql: postgres.Sql;
let direct: postgres.Sql;

beforeAll(async () => {
  const url = new URL(inject('databaseUrl'));
  proxy = new Proxy(url);
  await proxy.start();
  sql = postgres(proxy.url(), { max: 1, onnotice: () => {}, connection: { application_name: 'pipeline-test' } });
  direct = postgres(url.toString(), { max: 2, onnotice: () => {} });
  await sql`select 1`; // connected and authenticated before anything is held
});

// Nothing held into the next test, and its COMMIT answered: on this one-connection pool a plain statement queues behind it.
afterEach(async () => {
  proxy.release();
  await sql`select 1`;
});

afterAll(async () => {
  proxy.release();
  await sql.end({ timeout: 2 });
  await direct.end({ timeout: 2 });
  await proxy.close();
});

it('sends the transaction\'s first statement before BEGIN is answered', async () => {
  proxy.sent = '';
  proxy.hold = /BEGIN\0/; // BEGIN's CommandComplete
  const tx = settled(sql.begin(READ_ONLY, (t) => t`select 'pipelined-read' as x`, { pipeline: true }));
  const readSent = await eventually(() => proxy.sent.includes('pipelined-read'));
  expect(proxy.sent).toMatch(/begin isolation level repeatable read read only/);
  expect(readSent).toBe(true);
  expect(tx.done).toBe(false);
  proxy.release();
  await eventually(() => tx.done);
  expect(tx.error).toBeUndefined();
  expect(tx.value).toEqual([{ x: 'pipelined-read' }]);
});

it('answers before COMMIT is answered, and the connection returns to the pool once it is', async () => {
  proxy.hold = /COMMIT\0/;
  const tx = settled(sql.begin(READ_ONLY, (t) => t`select 'before-commit' as x`, { pipeline: true }));
  expect(await eventually(() => tx.done)).toBe(true);
  expect(tx.value).toEqual([{ x: 'before-commit' }]);
  // max: 1 — the next statement waits for the connection, which the held COMMIT still holds.
  const next = settled(sql`select 'after-commit' as x`);
  await new Promise((r) => setTimeout(r, 50));
  expect(next.done).toBe(false);
  proxy.release();
  expect(await eventually(() => next.done)).toBe(true);
  expect(next.value).toEqual([{ x: 'after-commit' }]);
  // The transaction really ended: the connection is idle, not idle in transaction.
  const [row] = await direct`select state from pg_stat_activity where application_name = 'pipeline-test'`;
  expect(row?.state).toBe('idle');
});

it('a BEGIN the server refuses fails the transaction, although the statements behind it ran', async () => {
  // Letters and spaces pass the driver's filter; the server rejects the isolation level.
  await expect(sql.begin('isolation level bogus read only', (t) => t`select 1 as x`, { pipeline: true }))
    .rejects.toMatchObject({ code: '42601' });
  expect(await sql`select 'still usable' as x`).toEqual([{ x: 'still usable' }]);
});

it('is refused for a transaction that may write (its COMMIT can fail)', async () => {
  await expect(sql.begin('isolation level read committed', (t) => t`select 1`, { pipeline: true })).rejects.toThrow(/read only/);
});

it('a connection the server closes mid-transaction fails that transaction only; the next ones reconnect at once', async () => {
  for (const pipeline of [true, false]) { // the patched path and the driver's own
    const tx = sql.begin(READ_ONLY, async (t) => {
      const [row] = await t<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await direct`select pg_terminate_backend(${row!.pid})`;
      return t`select 'after kill' as x`;
    }, { pipeline });
    await expect(tx).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    // Right away, no pause: neither the server's farewell error nor the failed statements may reach these.
    for (let i = 0; i < 3; i++) {
      expect(await sql.begin(READ_ONLY, (t) => t`select 'reconnected' as x`, { pipeline })).toEqual([{ x: 'reconnected' }]);
    }
  }
});

it('a transaction whose connection closed sends nothing more: not its statements, not its COMMIT, not onto the reconnected connection', async () => {
  for (const pipeline of [true, false]) {
    let resume!: () => void;
    const paused = new Promise<void>((r) => { resume = r; });
    let late: Promise<unknown> | undefined;
    const stale = sql.begin(READ_ONLY, async (t) => {
      const [row] = await t<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await direct`select pg_terminate_backend(${row!.pid})`;
      await paused; // resumes while another transaction holds the reconnected connection (max: 1)
      late = t`select 'late-statement' as x`;
      return late;
    }, { pipeline });
    await expect(stale).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    proxy.sent = '';
    const next = await sql.begin(READ_ONLY, async (t) => {
      const [a] = await t<{ ro: string }[]>`select current_setting('transaction_read_only') as ro`;
      resume();
      await eventually(() => late !== undefined);
      await late!.catch(() => {});
      const [b] = await t<{ ro: string }[]>`select current_setting('transaction_read_only') as ro`;
      return [a!.ro, b!.ro];
    }, { pipeline });
    await expect(late).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(proxy.sent).not.toContain('late-statement');
    expect(next).toEqual(['on', 'on']); // still in its transaction: no stray COMMIT or ROLLBACK ended it
    expect(await sql`select 'usable' as x`).toEqual([{ x: 'usable' }]);
  }
});

it('statements queued inside a transaction fail when its connection closes, instead of waiting forever', async () => {
  for (const pipeline of [true, false]) {
    let queued: ReturnType<typeof settled<unknown>> | undefined;
    const tx = sql.begin(READ_ONLY, async (t) => {
      const [row] = await t<{ pid: number }[]>`select pg_backend_pid() as pid`;
      // A first-seen parameterised statement is described first, which parks the connection as
      // full: the statement behind it waits in the transaction's own queue.
      const slow = t.unsafe(`select pg_sleep($1) as z, '${pipeline}-${Date.now()}' as tag`, [5]).execute(); // queries are lazy
      queued = settled(t`select 'queued' as x`);
      await eventually(() => proxy.sent.includes('pg_sleep'));
      await direct`select pg_terminate_backend(${row!.pid})`;
      return slow;
    }, { pipeline });
    await expect(tx).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(await eventually(() => queued!.done, 2000)).toBe(true);
    expect(queued!.error).toMatchObject({ code: 'CONNECTION_CLOSED' });
  }
});

it('a connection lost while the driver fetches its array types reconnects, with no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => { unhandled.push(e); };
  process.on('unhandledRejection', onUnhandled);
  const fresh = postgres(proxy.url(), { max: 1, onnotice: () => {}, connection: { application_name: 'pipeline-test' } });
  try {
    proxy.dropOn = /typarray/; // the first statement on every new connection
    // The query waiting for that connection fails with the server's farewell (it never ran); the next one reconnects.
    await expect(fresh`select 'waited for the lost connection' as x`).rejects.toMatchObject({ code: '57P01' });
    expect(proxy.dropOn).toBeUndefined(); // the fetch really was cut
    expect(await fresh`select 'after the lost type fetch' as x`).toEqual([{ x: 'after the lost type fetch' }]);
    await new Promise((r) => setTimeout(r, 50)); // rejections are reported a tick late
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await fresh.end({ timeout: 2 });
  }
});

it('a statement sent between a reset socket\'s error and its close fails, and is not carried onto the next connection', async () => {
  const fresh = postgres(proxy.url(), { max: 1, onnotice: () => {}, connection: { application_name: 'pipeline-test' } });
  try {
    await fresh`select 1`;
    proxy.resetOn = /reset-me/;
    // The socket reports the reset ('error') a loop turn before it closes; the failed statement's handler
    // sends the next one at once, so it reaches the connection in between.
    let inGap: ReturnType<typeof settled<unknown>> | undefined;
    const first = fresh`select 'reset-me' as x`.catch((e: unknown) => { inGap = settled(fresh`select 'sent in the gap' as x`); throw e; });
    await expect(first).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await eventually(() => inGap?.done === true)).toBe(true);
    expect(inGap!.error).toMatchObject({ code: 'CONNECTION_CLOSED' });
    const next = settled(fresh`select 'on the next connection' as x`);
    expect(await eventually(() => next.done)).toBe(true);
    expect(next.value).toEqual([{ x: 'on the next connection' }]);
  } finally {
    await fresh.end({ timeout: 1 });
  }
});

it('a statement that fails to serialize behind one in flight fails alone; the next gets its own answer', async () => {
  const asJson = (t: postgres.TransactionSql, v: unknown) => t`select ${t.json(v as never)}::jsonb::text as x`;
  await sql.begin(READ_ONLY, (t) => asJson(t, { n: 1 })); // prepared on this connection: the next use fails in Bind, not Parse
  let a: ReturnType<typeof settled<unknown>> | undefined;
  let b: ReturnType<typeof settled<unknown>> | undefined;
  const tx = settled(sql.begin(READ_ONLY, async (t) => {
    a = settled(asJson(t, { n: 1n })); // JSON.stringify throws on a BigInt; BEGIN is still in flight
    b = settled(t`select 'the answer for b' as x`);
    await eventually(() => !!a?.done && !!b?.done);
    return 'done';
  }, { pipeline: true }));
  expect(await eventually(() => tx.done)).toBe(true);
  expect(a!.error).toBeInstanceOf(TypeError); // not another statement's rows
  expect(b!.value).toEqual([{ x: 'the answer for b' }]);
  expect(tx.error).toBeInstanceOf(TypeError); // a statement of it failed
});

it('a refused pipelined BEGIN sends nothing more: neither the statements after it nor a ROLLBACK reach the next transaction', async () => {
  await direct`create table if not exists pipeline_test_rows (id int)`;
  await direct`truncate pipeline_test_rows`;
  try {
    let resume!: () => void;
    const paused = new Promise<void>((r) => { resume = r; });
    // Letters and spaces pass the driver's filter; the server refuses the isolation level.
    const refused = settled(sql.begin('isolation level bogus read only', async (t) => {
      await paused; // resumes while another transaction holds the connection (max: 1)
      return t`select 'late-after-refused-begin' as x`;
    }, { pipeline: true }));
    await new Promise((r) => setTimeout(r, 20)); // BEGIN refused: the connection is back in the pool
    proxy.sent = '';
    const other = sql.begin(async (t) => {
      await t`insert into pipeline_test_rows values (1)`;
      resume();
      await eventually(() => refused.done);
      await t`insert into pipeline_test_rows values (2)`;
      throw new Error('the other transaction aborts: none of it may stay');
    });
    await expect(other).rejects.toThrow(/aborts/);
    expect(refused.error).toMatchObject({ code: '42601' });
    expect(proxy.sent).not.toContain('late-after-refused-begin');
    expect(await direct`select id from pipeline_test_rows`).toEqual([]);
  } finally {
    await direct`drop table pipeline_test_rows`;
  }
});

it('a statement on a reserved connection that has closed fails, and does not fail the caller it was reconnected for', async () => {
  const fresh = postgres(proxy.url(), { max: 1, onnotice: () => {}, connection: { application_name: 'pipeline-test' } });
  try {
    const reserved = await fresh.reserve();
    const [row] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const waiting = settled(fresh`select 'the waiting caller' as x`); // queued: the only connection is reserved
    let stale: ReturnType<typeof settled<unknown>> | undefined;
    const first = reserved`select pg_sleep(5)`.catch(() => { stale = settled(reserved`select 'stale handle' as x`); });
    await eventually(() => proxy.sent.includes('pg_sleep'));
    await direct`select pg_terminate_backend(${row!.pid})`;
    await first;
    expect(await eventually(() => !!stale?.done && waiting.done)).toBe(true);
    expect(stale!.error).toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(waiting.value).toEqual([{ x: 'the waiting caller' }]);
  } finally {
    await fresh.end({ timeout: 1 });
  }
});

it('BEGIN written under backpressure still reserves its connection', async () => {
  for (const pipeline of [true, false]) {
    // A socket that queues BEGIN's bytes as usual but reports backpressure for them (write() false).
    const socket = () => new Promise<net.Socket>((resolve) => {
      const sock = net.connect(proxy.port, '127.0.0.1', () => resolve(sock));
      const write = sock.write.bind(sock) as (chunk: Buffer, cb?: () => void) => boolean;
      (sock as unknown as { write: typeof write }).write = (chunk, cb) => write(chunk, cb) && !/begin isolation/.test(chunk.toString('latin1'));
    });
    // `socket` (a connection factory) is a postgres.js option its types do not declare.
    const fresh = postgres(proxy.url(), { max: 1, onnotice: () => {}, socket } as postgres.Options<{}>);
    try {
      await fresh`select 1`;
      // Another caller's statement in the same tick: BEGIN's flush carries it and passes the 1 KB flush threshold.
      const other = settled(fresh.unsafe(`select '${'x'.repeat(950)}' <> '' as a`));
      const tx = settled(fresh.begin(READ_ONLY, (t) => t`select current_setting('transaction_read_only') as ro`, { pipeline }));
      expect(await eventually(() => tx.done && other.done)).toBe(true);
      expect(tx.value).toEqual([{ ro: 'on' }]);
      // The connection is back in the pool outside any transaction.
      expect(await fresh`select current_setting('transaction_read_only') as ro`).toEqual([{ ro: 'off' }]);
    } finally {
      await fresh.end({ timeout: 1 });
    }
  }
});

it('many concurrent pipelined transactions on a small pool: each answers from its own snapshot, none stays open', async () => {
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    sql.begin(READ_ONLY, async (t) => {
      const [a] = await t<{ s: string }[]>`select pg_current_snapshot()::text as s, ${i}::int as i`;
      const [b] = await t<{ s: string }[]>`select pg_current_snapshot()::text as s`;
      return [a!.s, b!.s];
    }, { pipeline: true })));
  for (const [a, b] of many) expect(a).toBe(b); // two statements, read across ticks, one snapshot
  await sql`select 1`; // behind the last COMMIT
  const [row] = await direct`select count(*)::int as n from pg_stat_activity where application_name = 'pipeline-test' and state <> 'idle'`;
  expect(row?.n).toBe(0);
});
