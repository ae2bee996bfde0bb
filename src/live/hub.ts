// One change-log follower per gateway process feeds every subscriber. It
// LISTENs on one connection (postgres.js reconnects it and calls onlisten on
// every reconnect), and on each wake-up re-reads the log from the last seq it
// dispatched, so a lost connection or a missed NOTIFY loses nothing.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Sql } from '../db/client.js';
import { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';
import { sleep, Turns } from '../util.js';
import { CHANNEL, logBounds, readChanges, readReplayPage, type LoggedChange } from './changelog.js';

export interface HubOptions {
  sql: Sql;
  logger: Logger;
  /** Events a subscriber may have queued before it is ended with SLOW_CONSUMER. */
  bufferLimit: number;
  /** Safety-net re-read interval, on top of NOTIFY. */
  pollMs: number;
  pageSize?: number;
  /** Subscriptions one key may hold in this process, over every transport (MAX_SUBSCRIPTIONS_PER_KEY). */
  maxPerKey?: number;
  /** Replay statements in flight at once, over all subscribers (the rest queue); default REPLAY_READS. */
  replayReads?: number;
}

export interface Filter { topic: LoggedChange['topic']; keys: Set<string> | null }

/** Handed to the resolver instead of a change when a subscription must end with an error. */
export class StreamEnd {
  constructor(readonly error: DomainError) {}
}

export type Delivery = LoggedChange | StreamEnd;

export const cursorOf = (seq: number) => String(seq);

const PING = 'ping';
const LISTEN_CHECK_MS = 2000;

/** How long a subscribe waits for a cursor ahead of the log to become visible (see subscribe) before refusing it. */
const AHEAD_WAIT_MS = 2000;

/** Rows a replay statement returns at most. */
export const REPLAY_PAGE = 500;
/**
 * Deliveries, over all subscribers, between two turns of the event loop. A delivery is
 * handed over in a microtask, so one write of 200 SKUs to 1,000 subscribers would
 * otherwise hold the loop for all 200,000 (seconds), and every decision with it.
 */
export const DELIVERY_BURST = 256;
/**
 * Seqs a replay statement looks at: it filters in SQL, on every row of its range
 * (the primary key gives the range, no index gives topic or key). The first
 * statement looks at REPLAY_SCAN_FIRST, about what one unfiltered page did; each
 * that comes back short looks twice as far, so a filter that matches nothing
 * crosses a 30,000-entry log in 5 statements. Never past REPLAY_SCAN_MAX, so a
 * statement stays well inside PG_STATEMENT_TIMEOUT_MS however long the log is
 * (32,000 rows: tens of milliseconds).
 */
export const REPLAY_SCAN_FIRST = 1_000;
export const REPLAY_SCAN_MAX = 32_000;
/** Default replayReads: one of the feed pool's two connections; the follower keeps the other. */
export const REPLAY_READS = 1;

function parseCursor(after: string): number {
  // The value is not echoed: it can be anything up to the request size.
  if (!/^\d{1,15}$/.test(after)) throw new DomainError('BAD_USER_INPUT', 'after: not a cursor from this gateway');
  return Number(after);
}

const shuttingDown = (after: string | null | undefined) => new DomainError('UNAVAILABLE',
  'The gateway is shutting down; resubscribe to another instance', after == null ? {} : { lastCursor: after });

const cursorExpired = (at: number, prunedThrough: number) => new DomainError('CURSOR_EXPIRED',
  `Cursor ${at} is older than the change log's retention; re-read current state and subscribe from its snapshot.cursor`,
  { lastCursor: cursorOf(at), prunedThrough: cursorOf(prunedThrough) });

export class ChangeHub {
  private lastSeq = 0;
  private readonly subscribers = new Set<Subscriber>();
  private readonly perOwner = new Map<string, number>();
  private reading: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private checker: NodeJS.Timeout | undefined;
  private lastPing = 0;
  private unlisten: (() => Promise<void>) | undefined;
  private stopped = false;
  /** Bounds what replays put on the process and the feed pool: 300 replays queue, they do not all read at once. */
  readonly replayGate: Turns;
  listening = false;
  /** When this follower last read the log to its end (Date.now()): a stuck feed shows as a growing age. */
  caughtUpAt = Date.now();

  constructor(readonly opts: HubOptions) {
    this.replayGate = new Turns(Math.max(1, opts.replayReads ?? REPLAY_READS));
  }

  get subscriberCount(): number { return this.subscribers.size; }
  get dispatchedThrough(): number { return this.lastSeq; }

  private burst = 0;
  private pause: Promise<void> | null = null;
  /** Null while this burst of deliveries has room; else the next turn of the event loop, which starts another. */
  paced(): Promise<void> | null {
    if (++this.burst <= DELIVERY_BURST) return null;
    return this.pause ??= nextTurn().then(() => { this.burst = 0; this.pause = null; });
  }

  async start(): Promise<void> {
    this.lastSeq = (await logBounds(this.opts.sql)).head;
    await this.listen();
    this.timer = setInterval(() => this.poke(), this.opts.pollMs);
    this.timer.unref();
    this.checker = setInterval(() => void this.checkListener(), LISTEN_CHECK_MS);
    this.checker.unref();
  }

  private async listen(): Promise<void> {
    await this.unlisten?.().catch(() => {}); // a re-listen replaces the old listener, never adds to it
    const handle = await this.opts.sql.listen(CHANNEL, (payload) => {
      if (payload === PING) this.lastPing = Date.now(); // a ping says the listener works, not that anything changed
      else this.poke();
    }, () => {
      this.listening = true;
      this.lastPing = Date.now();
      this.poke(); // (re)connected: catch up on whatever was committed meanwhile
    });
    this.unlisten = handle.unlisten;
  }

  /**
   * postgres.js re-LISTENs after a lost connection once, and drops the channel
   * if that attempt fails (the database still down). So ping ourselves through
   * NOTIFY; when pings stop arriving, the listener is gone: say so (/ready) and
   * listen again. The log is re-read on (re)listen, so nothing is missed.
   */
  private async checkListener(): Promise<void> {
    if (Date.now() - this.lastPing > 2.5 * LISTEN_CHECK_MS && this.listening) {
      this.listening = false;
      this.opts.logger.warn('change listener lost; listening again');
    }
    if (!this.listening) await this.listen().catch(() => {});
    await this.opts.sql`select pg_notify(${CHANNEL}, ${PING})`.catch(() => {});
  }

  async stop(reason?: DomainError): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.checker);
    await this.unlisten?.().catch(() => {});
    this.listening = false;
    for (const s of this.subscribers) s.end(reason);
    await this.reading;
  }

  /** Read the log past lastSeq; concurrent wake-ups fold into one more pass. */
  poke(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.drain()
      .catch((err) => this.opts.logger.warn({ err }, 'change log read failed; retrying on the next wake-up'))
      .finally(() => { this.reading = null; });
  }

  private async drain(): Promise<void> {
    const page = this.opts.pageSize ?? 1000;
    do {
      this.again = false;
      for (;;) {
        const { rows, prunedThrough } = await readChanges(this.opts.sql, this.lastSeq, page);
        if (prunedThrough > this.lastSeq) {
          // Retention removed entries this follower never dispatched: no live subscriber can be
          // continued without a gap, so each is ended with its own cursor and CURSOR_EXPIRED.
          for (const s of this.subscribers) s.expire(prunedThrough);
          this.lastSeq = prunedThrough;
          continue;
        }
        for (const change of rows) {
          for (const s of this.subscribers) s.offer(change);
          this.lastSeq = change.seq;
        }
        if (rows.length < page) break;
      }
    } while (this.again);
    this.caughtUpAt = Date.now();
  }

  /**
   * Without `after`: changes committed after the newest entry at subscribe time
   * (read from the database, not from where this follower happens to be).
   * With `after`: replays what followed that cursor, then continues live.
   */
  async subscribe(filter: Filter, after: string | null | undefined, owner: string | null = null): Promise<AsyncIterableIterator<Delivery>> {
    const wanted = after == null ? null : parseCursor(after);
    if (this.stopped) throw shuttingDown(after);
    let { head, prunedThrough } = await logBounds(this.opts.sql);
    // A cursor ahead of the log may be one a read replica already shows while the primary's commit still waits
    // for a synchronous standby's acknowledgement: give that commit a moment to become visible here.
    for (const until = Date.now() + AHEAD_WAIT_MS; wanted !== null && wanted > head && Date.now() < until;) {
      await sleep(20);
      ({ head, prunedThrough } = await logBounds(this.opts.sql));
    }
    if (wanted !== null && wanted < prunedThrough) throw cursorExpired(wanted, prunedThrough);
    if (wanted !== null && wanted > head) {
      throw new DomainError('BAD_USER_INPUT', `Cursor ${wanted} is ahead of the change log (head ${head})`);
    }
    const start = wanted ?? head;
    // Again after the await: a stop() meanwhile ended every subscriber it knew of, and would not end this one.
    if (this.stopped) throw shuttingDown(after);
    // Checked after the await, right before adding: concurrent subscribes cannot both slip under it.
    const held = owner === null ? 0 : this.perOwner.get(owner) ?? 0;
    if (held >= (this.opts.maxPerKey ?? Infinity)) {
      throw new DomainError('LIMIT_EXCEEDED', `This key already holds ${held} subscriptions in this gateway process, `
        + 'the most MAX_SUBSCRIPTIONS_PER_KEY allows; end some before opening more', { limit: this.opts.maxPerKey });
    }
    // Everything up to lastSeq was dispatched before we joined: replay it from the log.
    const sub = new Subscriber(this, filter, start, this.lastSeq, owner);
    this.subscribers.add(sub);
    if (owner !== null) this.perOwner.set(owner, held + 1);
    return sub;
  }

  remove(sub: Subscriber): void {
    if (!this.subscribers.delete(sub) || sub.owner === null) return;
    const left = (this.perOwner.get(sub.owner) ?? 1) - 1;
    if (left > 0) this.perOwner.set(sub.owner, left); else this.perOwner.delete(sub.owner);
  }
}

class Subscriber implements AsyncIterableIterator<Delivery> {
  private readonly queue: LoggedChange[] = [];
  private readonly replayBuffer: LoggedChange[] = [];
  private readonly keys: string[] | null;
  private enqueuedThrough: number;
  private replayedThrough: number;
  private replayScan = REPLAY_SCAN_FIRST;
  private delivered: number;
  private ending: StreamEnd | null = null;
  private endDelivered = false;
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly hub: ChangeHub, private readonly filter: Filter, start: number, private readonly replayUntil: number,
    readonly owner: string | null,
  ) {
    this.delivered = start;
    this.replayedThrough = start;
    this.enqueuedThrough = Math.max(start, replayUntil);
    this.keys = filter.keys && [...filter.keys];
  }

  private matches(c: LoggedChange): boolean {
    return c.topic === this.filter.topic && (this.filter.keys === null || this.filter.keys.has(c.key));
  }

  offer(change: LoggedChange): void {
    if (this.closed || this.ending || change.seq <= this.enqueuedThrough) return;
    this.enqueuedThrough = change.seq;
    if (!this.matches(change)) return;
    if (this.queue.length >= this.hub.opts.bufferLimit) {
      // Memory stays bounded whatever the client does: drop the backlog now; the
      // error (with the cursor to resume from) is delivered when the client reads.
      this.queue.length = 0;
      this.hub.remove(this);
      this.end(new DomainError('SLOW_CONSUMER',
        `Subscriber fell more than ${this.hub.opts.bufferLimit} events behind; resume with after: "${cursorOf(this.delivered)}"`,
        { lastCursor: cursorOf(this.delivered) }));
      return;
    }
    this.queue.push(change);
    this.wake?.();
  }

  /** Entries after what this subscriber has were pruned before it got them. */
  expire(prunedThrough: number): void {
    this.queue.length = 0;
    this.end(cursorExpired(this.delivered, prunedThrough));
  }

  end(error?: DomainError): void {
    if (this.closed || this.ending) return;
    this.ending = new StreamEnd(error ?? new DomainError('UNAVAILABLE', 'The gateway is shutting down; resume with "after"',
      { lastCursor: cursorOf(this.delivered) }));
    this.wake?.();
  }

  async next(): Promise<IteratorResult<Delivery>> {
    while (!this.closed) {
      if (this.ending) {
        // Stay registered until the transport asks for more, i.e. has sent the error.
        if (this.endDelivered) break;
        this.endDelivered = true;
        return { value: this.ending, done: false };
      }
      const replaying = this.replayedThrough < this.replayUntil;
      if (replaying && this.replayBuffer.length === 0) {
        try {
          await this.replayPage();
        } catch (err) {
          // Ended like any other end, so it is delivered with its cursor and the subscriber leaves the hub
          // (thrown from here, graphql-ws never called return(): the subscriber and its key's place stayed).
          this.hub.opts.logger.warn({ err }, 'change log replay read failed; the subscription ends with its last cursor');
          this.end(new DomainError('UNAVAILABLE', 'The change log could not be read; resume with "after"', { lastCursor: cursorOf(this.delivered) }));
        }
        if (this.ending) continue;
      }
      if (this.replayBuffer.length > 0 || (!replaying && this.queue.length > 0)) {
        const pause = this.hub.paced();
        if (pause) {
          await pause;
          continue; // anything may have changed meanwhile (an end, a close)
        }
      }
      const next = this.replayBuffer.shift() ?? (replaying ? undefined : this.queue.shift());
      if (next) {
        this.delivered = next.seq;
        return { value: next, done: false };
      }
      if (replaying) continue;
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = null;
    }
    this.close();
    return { value: undefined, done: true };
  }

  /**
   * Catch-up from the log, for what was dispatched before this subscriber joined:
   * one statement returns the next matching entries (at most REPLAY_PAGE) among
   * the next replayScan seqs, so a filter that matches little reads little.
   * Read only when the client has taken everything read before, and through the
   * hub's gate.
   */
  private async replayPage(): Promise<void> {
    // Between pages, whatever else is ready runs first. Before the read, not after it: what it read is
    // handed to the client in the same turn, before anything (an overflow of the live queue) can end it.
    await nextTurn();
    const after = this.replayedThrough;
    const until = Math.min(this.replayUntil, after + this.replayScan);
    const page = await this.hub.replayGate.run(this.owner, async () => {
      if (this.closed || this.ending) return null; // gone while queued: read nothing
      return readReplayPage(this.hub.opts.sql, { topic: this.filter.topic, keys: this.keys }, after, until, REPLAY_PAGE);
    });
    if (!page) return;
    // Pruned past what we have: entries of the range may be gone (the filter cannot tell which), so end, never skip.
    if (page.prunedThrough > after) return this.expire(page.prunedThrough);
    this.replayBuffer.push(...page.rows);
    if (page.rows.length === REPLAY_PAGE) {
      this.replayedThrough = page.rows.at(-1)!.seq;
    } else {
      this.replayedThrough = until; // all of (after, until] read: look further next time
      this.replayScan = Math.min(2 * this.replayScan, REPLAY_SCAN_MAX);
    }
  }

  private close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.hub.remove(this);
    this.wake?.();
  }

  async return(): Promise<IteratorResult<Delivery>> {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery> { return this; }
}
