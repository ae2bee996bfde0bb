// Bare clients for the auth and limit tests: a graphql-transport-ws socket that
// shows what the graphql-ws client hides (close codes and reasons, per-id error
// messages, oversized frames), and an SSE subscription sent with headers. Also
// the SSE parser every SSE client of the tests reads with (sseEvents).
import WebSocket from 'ws';

export interface Closed { code: number; reason: string; at: number }

export interface RawSocket {
  ws: WebSocket;
  messages: any[];
  closed: Promise<Closed>;
  /** Sends connection_init; resolves with the ack, rejects if the socket closes first. */
  init(payload?: Record<string, unknown>): Promise<any>;
  /** `extensions` carries a trusted document's hash (query ""). */
  subscribe(id: string, query: string, variables?: Record<string, unknown>, extensions?: Record<string, unknown>): void;
  complete(id: string): void;
  send(raw: string | object): void;
  /** The first message matching `pred` (waits up to `ms`; rejects if the socket closes without one). */
  waitFor(pred: (m: any) => boolean, ms?: number): Promise<any>;
  /** `n` `next` messages for `id`. */
  nexts(id: string, n: number, ms?: number): Promise<any[]>;
  count(id: string, type?: string): number;
  close(): void;
}

export async function rawSocket(url: string): Promise<RawSocket> {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const messages: any[] = [];
  const waiters = new Set<() => void>();
  let closeInfo: Closed | undefined;
  const wake = () => { for (const w of [...waiters]) w(); };
  const closed = new Promise<Closed>((resolve) => ws.on('close', (code, reason) => {
    closeInfo = { code, reason: reason.toString(), at: Date.now() };
    resolve(closeInfo);
    wake();
  }));
  ws.on('message', (data) => { messages.push(JSON.parse(String(data))); wake(); });
  ws.on('error', () => {});
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });

  const waitUntil = <T>(probe: () => T | undefined, what: string, ms: number) => new Promise<T>((resolve, reject) => {
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    const check = () => {
      const found = probe();
      if (found !== undefined) { done(); resolve(found); return; }
      if (closeInfo) { done(); reject(new Error(`socket closed (${closeInfo.code} ${closeInfo.reason}) before ${what}; got ${JSON.stringify(messages)}`)); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`)); }, ms);
    waiters.add(check);
    check();
  });

  const send = (raw: string | object) => ws.send(typeof raw === 'string' ? raw : JSON.stringify(raw));
  return {
    ws, messages, closed, send,
    init(payload) {
      send({ type: 'connection_init', ...(payload ? { payload } : {}) });
      return waitUntil(() => messages.find((m) => m.type === 'connection_ack'), 'connection_ack', 5000);
    },
    subscribe: (id, query, variables = {}, extensions) => send({ id, type: 'subscribe', payload: { query, variables, ...(extensions ? { extensions } : {}) } }),
    complete: (id) => send({ id, type: 'complete' }),
    waitFor: (pred, ms = 5000) => waitUntil(() => messages.find(pred), 'a matching message', ms),
    nexts(id, n, ms = 5000) {
      return waitUntil(() => {
        const got = messages.filter((m) => m.id === id && m.type === 'next');
        return got.length >= n ? got.slice(0, n) : undefined;
      }, `${n} next messages for ${id}`, ms);
    },
    count: (id, type = 'next') => messages.filter((m) => m.id === id && m.type === type).length,
    close: () => ws.close(),
  };
}

export interface SseStream {
  status: Promise<number>;
  items: any[];
  errors: any[];
  /** Resolves when the server ends the stream (or the request fails). */
  ended: Promise<number>;
  close(): void;
}

/** The events of an SSE response as they arrive: each one's `event` name and its `data` lines joined. */
export async function* sseEvents(res: Response): AsyncGenerator<{ event: string | undefined; data: string }> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      yield { event, data };
    }
  }
}

/** POST accept: text/event-stream with `headers`; `ended` resolves with the time the stream ended. `query` null: not sent. */
export function sseAs(url: string, headers: Record<string, string>, query: string | null, variables: Record<string, unknown> = {},
  extensions?: Record<string, unknown>): SseStream {
  const abort = new AbortController();
  const items: any[] = [];
  const errors: any[] = [];
  const res = fetch(url, {
    method: 'POST', signal: abort.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ ...(query === null ? {} : { query }), variables, ...(extensions ? { extensions } : {}) }),
  });
  const ended = (async () => {
    try {
      for await (const { event, data } of sseEvents(await res)) {
        if (event === 'next' && data) {
          const parsed = JSON.parse(data);
          if (parsed.errors) errors.push(...parsed.errors); else items.push(parsed.data);
        }
      }
    } catch (e) {
      if (!abort.signal.aborted) errors.push({ message: String(e) });
    }
    return Date.now();
  })();
  return { status: res.then((r) => r.status, () => 0), items, errors, ended, close: () => abort.abort() };
}

/** `p`, or a rejection naming `what` after `ms`: keeps a missing close or end from hanging a test. */
export function within<T>(p: Promise<T>, ms: number, what = 'it'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
