// The decision log's queue: decisions picked for the log (decisionContext(log:
// true), or sampled at DECISION_LOG_SAMPLE) are handed over after their answer
// was built, as references to the rows the answer was made of (nothing is read
// again, nothing is copied on the request path). A timer turns them into rows
// and writes them in batches (one statement each, writes/decision-log.ts).
// The queue is bounded in rows (candidates and the events a decision's context
// logs): when it is full a decision is left out of the log and counted; a
// decision is never slowed or failed by it.
import type { Sql } from '../db/client.js';
import { toIsoUtc } from '../db/timestamps.js';
import type { Logger } from '../logger.js';
import type { Event, Flag } from '../domain.js';
import type { FactsWithLists } from '../reads/decision-sql.js';
import type { SnapshotSource } from '../reads/replicas.js';
import type { CandidateShape } from '../schema/candidate.js';
import { dayStart, ensurePartitions, insertDecisionBatch, type DecisionLogRow } from '../writes/decision-log.js';

export interface SnapshotShape { id: string; readAt: string; cursor: string; source: SnapshotSource; lagMs: number }

/** A decision as served: the request, its snapshot, the facts and the candidates the answer was built from. */
export interface LoggedDecision {
  decisionId: string;
  keyId: string | null;
  userId: string;
  sessionId: string | null;
  region: string | null;
  snapshot: SnapshotShape;
  /** Read with eventLists: the lists are logged. */
  facts: FactsWithLists;
  /** In request order, duplicates included. */
  candidates: CandidateShape[];
}

export interface DecisionLogOptions {
  sql: Sql;
  logger: Logger;
  /** Share of decisions logged without log: true (0..1). */
  sample: number;
  /** Candidate rows the queue holds at most. */
  queueRows: number;
  flushMs: number;
  batchRows: number;
}

/** What /metrics shows (plugins/metrics.ts). */
export interface DecisionLogStats {
  queuedRows: number;
  writtenDecisions: number;
  writtenRows: number;
  writtenBytes: number;
  droppedQueueFull: number;
  droppedWriteFailed: number;
  flushes: number;
}

const iso = (v: string | null) => (v === null ? null : toIsoUtc(v));
const flag = (f: Flag) => ({ scope: f.scope, target: f.target, kind: f.kind, active: f.active, reason: f.reason, changedAt: iso(f.changedAt) });
const event = (e: Event) => ({ kind: e.kind, sku: e.sku, quantity: e.quantity, at: iso(e.at) });

/** The row stored for one decision: every signal the gateway read, timestamps as the API serves them. */
export function toRow(d: LoggedDecision): DecisionLogRow {
  const f = d.facts;
  return {
    decision_id: d.decisionId,
    read_at: d.snapshot.readAt,
    key_id: d.keyId,
    user_id: d.userId,
    session_id: d.sessionId,
    region: d.region,
    snapshot_id: d.snapshot.id,
    snapshot_cursor: d.snapshot.cursor,
    source: d.snapshot.source,
    lag_ms: d.snapshot.lagMs,
    context: {
      segment: f.segment,
      userFlags: f.userFlags.map(flag),
      intent: f.intent,
      sessionLastEventAt: iso(f.sessionLastEventAt),
      sessionEvents: f.sessionEvents.map(event),
      purchases: f.purchases.map(event),
      fulfillment: f.fulfillment && { ...f.fulfillment, nextSlotAt: iso(f.fulfillment.nextSlotAt) },
    },
    signals: d.candidates.map((c, position) => ({
      position,
      sku: c.sku,
      item: c.item && { title: c.item.title, category: c.item.category },
      inventory: c.inventory && { available: c.inventory.available, reserved: c.inventory.reserved, updatedAt: iso(c.inventory.updatedAt) },
      velocity: { salesLast5s: c.velocity.salesLast5s, salesLast5m: c.velocity.salesLast5m, clicksLast30s: c.velocity.clicksLast30s },
      price: c.price && {
        amountMinor: c.price.amountMinor, currency: c.price.currency, listAmountMinor: c.price.listAmountMinor, updatedAt: iso(c.price.updatedAt),
      },
      policy: c.policy.map(flag),
      eligible: c.reasons.length === 0,
      reasons: c.reasons,
    })),
  };
}

/**
 * What a queued decision weighs against DECISION_LOG_QUEUE_ROWS: its candidates and the events its context logs
 * (session events, purchases), each about a candidate row's size; at least one. Counting candidates alone let
 * zero-candidate decisions (free in the work budget) hold ≈6.5 KB each at the weight of one row.
 */
const rowsOf = (d: LoggedDecision) => Math.max(1, d.candidates.length + d.facts.sessionEvents.length + d.facts.purchases.length);

/** A batch insert's time on a loaded box (p99 ≈ 0.4 s, max ≈ 0.9 s measured): the margin past the flush interval. */
export const LOG_WRITE_GRACE_MS = 1000;

export class DecisionLog {
  readonly stats: DecisionLogStats = {
    queuedRows: 0, writtenDecisions: 0, writtenRows: 0, writtenBytes: 0, droppedQueueFull: 0, droppedWriteFailed: 0, flushes: 0,
  };
  private queue: LoggedDecision[] = [];
  /** Ids queued or being written: an event citing one waits for its row (settle). */
  private pending = new Set<string>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private soon = false;
  /** Days whose partition is known to exist. */
  private days = new Set<number>();

  constructor(private readonly opts: DecisionLogOptions) {}

  get sample(): number { return this.opts.sample; }

  /** Whether a decision not asked for with log: true is logged. */
  sampled(): boolean {
    return this.opts.sample > 0 && Math.random() < this.opts.sample;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.opts.flushMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is queued. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Hands a served decision to the log; false (and counted) when the queue is full. O(1), never throws. */
  offer(d: LoggedDecision): boolean {
    const n = rowsOf(d);
    if (this.stats.queuedRows + n > this.opts.queueRows) {
      this.stats.droppedQueueFull++;
      return false;
    }
    this.queue.push(d);
    this.pending.add(d.decisionId);
    this.stats.queuedRows += n;
    if (this.stats.queuedRows >= this.opts.batchRows && !this.soon) {
      this.soon = true;
      setImmediate(() => { this.soon = false; void this.flush(); });
    }
    return true;
  }

  /**
   * How long to wait before a citation of `ids` missing from the log can be final: a decision logged by another
   * process (WORKERS > 1, other instances) reaches the table within its flush interval plus the insert. A UUIDv7
   * carries its creation time, so only decisions younger than that wait; anything else (older, not a v7) is 0.
   */
  graceMs(ids: Iterable<string>, now = Date.now()): number {
    let wait = 0;
    for (const id of ids) {
      const hex = id.replace(/-/g, '');
      if (hex.length !== 32 || hex[12] !== '7') continue;
      const age = now - parseInt(hex.slice(0, 12), 16);
      if (age >= -LOG_WRITE_GRACE_MS && age < this.opts.flushMs + LOG_WRITE_GRACE_MS) {
        wait = Math.max(wait, this.opts.flushMs + LOG_WRITE_GRACE_MS - age);
      }
    }
    return Math.min(wait, this.opts.flushMs + 2 * LOG_WRITE_GRACE_MS);
  }

  /** Resolves once none of `ids` is still waiting in this process's queue (their rows are written, or failed). */
  async settle(ids: Iterable<string>): Promise<void> {
    for (let round = 0; round < 3 && [...ids].some((id) => this.pending.has(id)); round++) await this.flush();
  }

  /** Writes everything queued, batch by batch; one flush at a time (a second call joins the running one, then runs). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.queue.length ? this.flush() : undefined));
    if (!this.queue.length) return Promise.resolve();
    this.flushing = this.drain().finally(() => { this.flushing = undefined; });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      let rows = 0;
      let take = 0;
      while (take < this.queue.length && (take === 0 || rows + rowsOf(this.queue[take]!) <= this.opts.batchRows)) {
        rows += rowsOf(this.queue[take]!);
        take++;
      }
      const batch = this.queue.splice(0, take);
      this.stats.queuedRows -= rows;
      try {
        await this.write(batch);
        this.stats.writtenDecisions += batch.length;
        this.stats.writtenRows += batch.reduce((n, d) => n + d.candidates.length, 0); // decision_log's candidate rows
      } catch (err) {
        this.stats.droppedWriteFailed += batch.length;
        this.opts.logger.warn({ err, decisions: batch.length }, 'decision log: a batch could not be written and was dropped');
      } finally {
        for (const d of batch) this.pending.delete(d.decisionId);
      }
    }
  }

  private async write(batch: LoggedDecision[]): Promise<void> {
    const json = JSON.stringify(batch.map(toRow));
    for (const d of batch) {
      const day = dayStart(Date.parse(d.snapshot.readAt));
      if (!this.days.has(day)) {
        await ensurePartitions(this.opts.sql, day, 1);
        this.days.add(day);
      }
    }
    this.stats.flushes++;
    await insertDecisionBatch(this.opts.sql, json);
    this.stats.writtenBytes += Buffer.byteLength(json);
  }

  /** Forget known partitions (after retention dropped some, or in tests). */
  forgetPartitions(): void { this.days.clear(); }
}
