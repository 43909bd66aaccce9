/**
 * Small helpers for the benches: command-line checks, a bounded-concurrency loop, CPU / memory / event-loop
 * accounting (this process and the Temporal dev server child, read from /proc on Linux), SCIM exchange
 * statistics, activity timings from a workflow history, and a Markdown table printer.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { WorkflowHandle } from '@temporalio/client';

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

// ── command line ────────────────────────────────────────────────────────────────────────────────

/** Runs one step of a shutdown, bounded, so a stuck step cannot keep the bench from exiting; failures are logged. */
export async function boundedStep(
  what: string,
  action: () => Promise<unknown> | undefined,
  limitMs: number,
): Promise<void> {
  try {
    const outcome = await Promise.race([
      Promise.resolve(action()).then(() => 'done'),
      new Promise((resolve) => setTimeout(resolve, limitMs, 'timeout').unref()),
    ]);
    if (outcome === 'timeout') log(`stopping ${what} took over ${limitMs / 1000} s; moving on`);
  } catch (error) {
    log(`stopping ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function positiveInteger(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${option} must be a positive integer, got ${value}`);
  return n;
}

/** The comma-separated `--runs` value, each one checked against the runs the bench has. */
export function parseRuns<T extends string>(value: string, allRuns: readonly T[]): T[] {
  const runs = value.split(',').map((r) => r.trim()) as T[];
  const unknown = runs.filter((r) => !allRuns.includes(r));
  if (unknown.length)
    throw new Error(`unknown --runs ${unknown.join(', ')}; choose from ${allRuns.join(', ')}`);
  return runs;
}

// ── budgets and loops ────────────────────────────────────────────────────────────────────────────

export class DeadlineExceeded extends Error {
  constructor(what: string, seconds: number) {
    super(`${what}: still not done after ${seconds} s`);
    this.name = 'DeadlineExceeded';
  }
}

/** A wall-clock budget for one timed run; loops call check() so an overrun stops them. */
export class Deadline {
  private readonly at: number;
  constructor(
    readonly what: string,
    readonly seconds: number,
  ) {
    this.at = performance.now() + seconds * 1000;
  }
  get exceeded(): boolean {
    return performance.now() > this.at;
  }
  remainingMs(): number {
    return Math.max(0, this.at - performance.now());
  }
  check(): void {
    if (this.exceeded) throw new DeadlineExceeded(this.what, this.seconds);
  }
  /** The promise's outcome, or DeadlineExceeded once the budget is spent (for calls that may block long). */
  async race<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceeded(this.what, this.seconds)), this.remainingMs());
    });
    try {
      return await Promise.race([promise, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs fn over items with at most `limit` in flight; the first error stops new items from starting. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  deadline?: Deadline,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      deadline?.check();
      const index = next++;
      try {
        await fn(items[index], index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}

// ── /proc ───────────────────────────────────────────────────────────────────────────────────────────

const CLOCK_TICKS_PER_SECOND = 100;

/** The pid of a direct child of this process whose command name contains `name` (Linux only). */
export function findChildPid(name: string): number | undefined {
  try {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (Number(afterComm[1]) === process.pid && comm.includes(name)) return Number(entry);
      } catch {
        // The process went away while we looked.
      }
    }
  } catch {
    // No /proc: not Linux.
  }
  return undefined;
}

/** User + system CPU time of a process in ms, from /proc/<pid>/stat. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the comm start at field 3 (state); utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Peak and current resident set of a process in MB, from /proc/<pid>/status. */
export function processMemoryMb(pid: number | undefined): { peak: number; current: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peak: kb('VmHWM') / 1024, current: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

// ── per-run usage ──────────────────────────────────────────────────────────────────────────────────

/** Samples this process's RSS so each run can report its own peak (the kernel only keeps the overall one). */
export class RssSampler {
  private runPeak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor() {
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }
  sample(): number {
    const rss = process.memoryUsage.rss();
    this.runPeak = Math.max(this.runPeak, rss);
    return rss;
  }
  resetRun(): void {
    this.runPeak = 0;
    this.sample();
  }
  runPeakMb(): number {
    this.sample();
    return this.runPeak / 2 ** 20;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

export interface Usage {
  wallMs: number;
  /** CPU ms of this process (worker, API, SCIM servers, baseline client). */
  benchCpuMs: number;
  /** Share of wall time this process's event loop was busy (1 = saturated). */
  eventLoopUtilization: number;
  temporalCpuMs?: number;
  benchRssPeakMb: number;
}

export function measureUsage(rss: RssSampler, temporalPid: number | undefined): () => Usage {
  rss.resetRun();
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const temporalCpu = processCpuMs(temporalPid);
  const started = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    const temporalNow = processCpuMs(temporalPid);
    return {
      wallMs: performance.now() - started,
      benchCpuMs: (used.user + used.system) / 1000,
      eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
      temporalCpuMs:
        temporalNow !== undefined && temporalCpu !== undefined ? temporalNow - temporalCpu : undefined,
      benchRssPeakMb: rss.runPeakMb(),
    };
  };
}

export function describeUsage(usage: Usage): string {
  const cores = (ms: number | undefined) =>
    ms === undefined ? 'n/a' : `${(ms / usage.wallMs).toFixed(2)} cores`;
  return (
    `CPU: bench process ${cores(usage.benchCpuMs)} (event loop busy ${(usage.eventLoopUtilization * 100).toFixed(0)}%), ` +
    `Temporal server ${cores(usage.temporalCpuMs)}; bench RSS peak ${usage.benchRssPeakMb.toFixed(0)} MB`
  );
}

// ── SCIM exchanges seen by the worker ─────────────────────────────────────────────────────────────

interface ExchangeTally {
  count: number;
  totalMs: number;
  durations: number[];
  /** Non-2xx answers and transport errors (timeouts, resets), by status. */
  errors: Map<string, number>;
}

/** Collects ScimClient's onExchange reports: calls and latency per method and path shape. */
export class ExchangeStats {
  private readonly byKind = new Map<string, ExchangeTally>();

  readonly record = (exchange: {
    method: string;
    path: string;
    status: number | 'error';
    durationMs: number;
  }) => {
    const kind = `${exchange.method} ${exchange.path.replace(/^\/(Users|Groups)\/[^/?]+/, '/$1/:id')}`;
    let tally = this.byKind.get(kind);
    if (!tally) this.byKind.set(kind, (tally = { count: 0, totalMs: 0, durations: [], errors: new Map() }));
    tally.count++;
    tally.totalMs += exchange.durationMs;
    tally.durations.push(exchange.durationMs);
    if (exchange.status === 'error' || exchange.status >= 300) {
      const status = String(exchange.status);
      tally.errors.set(status, (tally.errors.get(status) ?? 0) + 1);
    }
  };

  reset(): void {
    this.byKind.clear();
  }

  /** Summed duration of all exchanges since the last reset. */
  totalMs(): number {
    return [...this.byKind.values()].reduce((total, t) => total + t.totalMs, 0);
  }

  summary(): string[] {
    return [...this.byKind.entries()]
      .sort((a, b) => b[1].totalMs - a[1].totalMs)
      .map(([kind, t]) => {
        const sorted = [...t.durations].sort((a, b) => a - b);
        const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
        const errors = [...t.errors.entries()].map(([status, count]) => `${count}× ${status}`).join(', ');
        return (
          `${kind.padEnd(28)} ${String(t.count).padStart(6)} calls, mean ${(t.totalMs / t.count).toFixed(1)} ms, ` +
          `p95 ${p95.toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms` +
          (errors ? `; errors: ${errors} (retried)` : '')
        );
      });
  }
}

// ── workflow histories ───────────────────────────────────────────────────────────────────────────

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

const asNumber = (value: unknown): number => (typeof value === 'number' ? value : Number(String(value ?? 0)));
const eventMs = (event: HistoryEvent) =>
  asNumber(event.eventTime?.seconds) * 1000 + asNumber(event.eventTime?.nanos) / 1e6;

export interface ActivityTiming {
  /** An activity type, or "(workflow task)" for the workflow's own tasks. */
  activityType: string;
  count: number;
  /** Scheduled → started: waiting in the task queue for a worker slot / poller. */
  queuedMs: number;
  /** Started → closed. */
  runMs: number;
  attempts: number;
  /** Distinct messages of the failures that made an attempt retry. */
  failures: string[];
}

export const WORKFLOW_TASK = '(workflow task)';

/** How long each activity type (and the workflow tasks) of one workflow run waited and ran. */
export function activityTimings(history: History): ActivityTiming[] {
  const scheduled = new Map<
    number,
    { type: string; at: number; startedAt?: number; attempt?: number; lastFailure?: string }
  >();
  const byType = new Map<string, ActivityTiming>();
  const close = (scheduledEventId: unknown, at: number) => {
    const entry = scheduled.get(asNumber(scheduledEventId));
    if (!entry) return;
    let timing = byType.get(entry.type);
    if (!timing) {
      timing = { activityType: entry.type, count: 0, queuedMs: 0, runMs: 0, attempts: 0, failures: [] };
      byType.set(entry.type, timing);
    }
    const startedAt = entry.startedAt ?? entry.at;
    timing.count++;
    timing.queuedMs += startedAt - entry.at;
    timing.runMs += at - startedAt;
    timing.attempts += entry.attempt ?? 1;
    if (entry.lastFailure && !timing.failures.includes(entry.lastFailure))
      timing.failures.push(entry.lastFailure);
  };
  for (const event of history.events ?? []) {
    const at = eventMs(event);
    const id = asNumber(event.eventId);
    const activityScheduled = event.activityTaskScheduledEventAttributes;
    if (activityScheduled) scheduled.set(id, { type: activityScheduled.activityType?.name ?? '?', at });
    if (event.workflowTaskScheduledEventAttributes) scheduled.set(id, { type: WORKFLOW_TASK, at });
    const started = event.activityTaskStartedEventAttributes ?? event.workflowTaskStartedEventAttributes;
    if (started) {
      const entry = scheduled.get(asNumber(started.scheduledEventId));
      const attempt = event.activityTaskStartedEventAttributes?.attempt ?? 1;
      const lastFailure = event.activityTaskStartedEventAttributes?.lastFailure?.message ?? undefined;
      if (entry) Object.assign(entry, { startedAt: at, attempt, lastFailure });
    }
    const closed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.workflowTaskCompletedEventAttributes ??
      event.workflowTaskFailedEventAttributes ??
      event.workflowTaskTimedOutEventAttributes;
    if (closed) close(closed.scheduledEventId, at);
  }
  return [...byType.values()];
}

/** Mean timings over several histories of the same workflow type. */
export function meanTimings(histories: History[]): { spanMs: number; timings: ActivityTiming[] } {
  const byType = new Map<string, ActivityTiming>();
  for (const history of histories) {
    for (const t of activityTimings(history)) {
      const sum = byType.get(t.activityType) ?? {
        ...t,
        count: 0,
        queuedMs: 0,
        runMs: 0,
        attempts: 0,
        failures: [],
      };
      sum.count += t.count;
      sum.queuedMs += t.queuedMs;
      sum.runMs += t.runMs;
      sum.attempts += t.attempts;
      for (const failure of t.failures) if (!sum.failures.includes(failure)) sum.failures.push(failure);
      byType.set(t.activityType, sum);
    }
  }
  const k = Math.max(1, histories.length);
  return {
    spanMs: histories.reduce((total, h) => total + historySpanMs(h), 0) / k,
    timings: [...byType.values()].map((t) => ({
      ...t,
      count: t.count / k,
      queuedMs: t.queuedMs / k,
      runMs: t.runMs / k,
      attempts: t.attempts / k,
    })),
  };
}

/** Wall time from the first to the last event of a history. */
export function historySpanMs(history: History): number {
  const events = history.events ?? [];
  if (events.length === 0) return 0;
  return eventMs(events[events.length - 1]) - eventMs(events[0]);
}

// ── output ───────────────────────────────────────────────────────────────────────────────────────

/** A Markdown table; columns after the first are right-aligned. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `-${'-'.repeat(w)}-` : `-${'-'.repeat(w)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// ── memory and CPU of the bench's processes ────────────────────────────────────────────────────────

/** VmRSS of a process in MB, from /proc/<pid>/status; undefined once it is gone (or off Linux). */
export function processRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export interface ProcessUsage {
  /** Highest VmRSS sampled during the run, MB. */
  peakRssMb?: number;
  /** CPU time used during the run, in cores (CPU seconds per wall second). */
  cores?: number;
}

/**
 * Samples the RSS of named processes every `intervalMs` (VmRSS, /proc/<pid>/status), so each run reports the
 * peak of each process during that run; and their CPU time between a run's start and end.
 */
export class ProcessSampler {
  private readonly pids = new Map<string, number | undefined>();
  private peaks = new Map<string, number>();
  private cpuAtStart = new Map<string, number | undefined>();
  private startedAt = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 250) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Follows the process `name` from now on (a later call replaces its pid: a new target per run). */
  track(name: string, pid: number | undefined): void {
    this.pids.set(name, pid);
    this.cpuAtStart.set(name, processCpuMs(pid));
  }

  /** Starts a run: peaks and CPU count from here. */
  startRun(): void {
    this.peaks = new Map();
    this.cpuAtStart = new Map([...this.pids].map(([name, pid]) => [name, processCpuMs(pid)]));
    this.startedAt = performance.now();
    this.sample();
  }

  /** Each tracked process's peak RSS and CPU since startRun(). */
  endRun(): Map<string, ProcessUsage> {
    this.sample();
    const wallMs = Math.max(1, performance.now() - this.startedAt);
    const usage = new Map<string, ProcessUsage>();
    for (const [name, pid] of this.pids) {
      const now = processCpuMs(pid);
      const before = this.cpuAtStart.get(name);
      usage.set(name, {
        peakRssMb: this.peaks.get(name),
        cores: now !== undefined && before !== undefined ? (now - before) / wallMs : undefined,
      });
    }
    return usage;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const [name, pid] of this.pids) {
      const rss = processRssMb(pid);
      if (rss !== undefined) this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, rss));
    }
  }
}
