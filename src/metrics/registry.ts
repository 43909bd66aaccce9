import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReconciliationCategory, ReconciliationReport } from '../directory/model';
import { intentNames } from '../shared/intents';

/**
 * Every metric scimflow exposes starts with this (the Node process metrics too: `scimflow_process_cpu_seconds_total`).
 */
export const METRICS_PREFIX = 'scimflow_';

/** One HTTP exchange with a SCIM target, as `ScimClient`'s `onExchange` reports it. */
export interface ScimExchange {
  method: string;
  path: string;
  status: number | 'error';
  durationMs: number;
}

/** The outbox as the store sees it: intents recorded and not yet handed to Temporal. */
export interface OutboxBacklog {
  depth: number;
  /** ISO 8601; null when the outbox is empty. */
  oldestIssuedAt: string | null;
}

const KNOWN_INTENTS = new Set<string>(intentNames);
const SCIM_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const SCIM_RESOURCES = new Set([
  'Users',
  'Groups',
  'ServiceProviderConfig',
  'ResourceTypes',
  'Schemas',
  'Bulk',
]);

/**
 * The resource a SCIM request is about, `/Users` or `/Groups` (…), never the path itself: paths hold remote ids
 * and filters hold userNames, which are personal data and would make one series per object.
 */
export function scimResourceOf(path: string): string {
  const first =
    path
      .split('?')[0]
      .split('/')
      .find((segment) => segment !== '') ?? '';
  return SCIM_RESOURCES.has(first) ? `/${first}` : 'other';
}

/** `2xx`, `4xx`, `5xx` (…), or `error` when no answer came (network error, timeout, response too large). */
export function statusClassOf(status: number | 'error'): string {
  if (status === 'error' || !(status >= 100 && status < 600)) return 'error';
  return `${Math.floor(status / 100)}xx`;
}

const methodOf = (method: string) =>
  SCIM_METHODS.has(method.toUpperCase()) ? method.toUpperCase() : 'OTHER';

/** Seconds, from 10 ms (one quick SCIM call) to 10 min (an intent that waited out a long Retry-After). */
const SCIM_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const INTENT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600];

/**
 * The metrics of one scimflow process, in a registry of its own (not prom-client's global one, so one process
 * can hold several, as the tests do). `npm start` gives the API and the worker the same one; `npm run api` and
 * `npm run worker` each have theirs. Labels carry ids only (app id, intent, activity type, HTTP method, SCIM
 * resource type), never names, userNames or remote ids: no personal data, and a bounded number of series.
 */
export class ScimflowMetrics {
  readonly registry = new Registry();

  private readonly intentsIssued = new Counter({
    name: `${METRICS_PREFIX}intents_issued_total`,
    help: 'Intents recorded in the outbox by this process, by intent and app id.',
    labelNames: ['intent', 'app'] as const,
    registers: [this.registry],
  });
  private readonly intentsCompleted = new Counter({
    name: `${METRICS_PREFIX}intents_completed_total`,
    help: 'Intent workflows this worker completed (written, unchanged or skipped), by intent and app id.',
    labelNames: ['intent', 'app'] as const,
    registers: [this.registry],
  });
  private readonly intentsFailed = new Counter({
    name: `${METRICS_PREFIX}intents_failed_total`,
    help: 'Intent workflows this worker ended as failed, by intent and app id.',
    labelNames: ['intent', 'app'] as const,
    registers: [this.registry],
  });
  private readonly intentDuration = new Histogram({
    name: `${METRICS_PREFIX}intent_duration_seconds`,
    help: 'From the start of an intent workflow to its end, retries and waits included, by intent and outcome.',
    labelNames: ['intent', 'outcome'] as const,
    buckets: INTENT_BUCKETS,
    registers: [this.registry],
  });
  private readonly scimRequests = new Counter({
    name: `${METRICS_PREFIX}scim_requests_total`,
    help: 'HTTP exchanges with SCIM targets, by app id, method, resource type and status class (2xx, 4xx, 5xx, error).',
    labelNames: ['app', 'method', 'resource', 'status_class'] as const,
    registers: [this.registry],
  });
  private readonly scimDuration = new Histogram({
    name: `${METRICS_PREFIX}scim_request_duration_seconds`,
    help: 'Latency of HTTP exchanges with SCIM targets (from sending to the answer read), by app id, method and resource type.',
    labelNames: ['app', 'method', 'resource'] as const,
    buckets: SCIM_BUCKETS,
    registers: [this.registry],
  });
  private readonly scimRateLimited = new Counter({
    name: `${METRICS_PREFIX}scim_rate_limited_total`,
    help: 'SCIM requests a target answered 429 Too Many Requests, by app id.',
    labelNames: ['app'] as const,
    registers: [this.registry],
  });
  private readonly scimResends = new Counter({
    name: `${METRICS_PREFIX}scim_resends_total`,
    help: "SCIM requests sent again after a 429 once the app's pause ended (rate-limited apps), by app id.",
    labelNames: ['app'] as const,
    registers: [this.registry],
  });
  private readonly scimNotSent = new Counter({
    name: `${METRICS_PREFIX}scim_not_sent_total`,
    help: "SCIM requests failed unsent because the app's rate limit or pause would have held them too long (their activity is retried), by app id.",
    labelNames: ['app'] as const,
    registers: [this.registry],
  });
  private readonly activityRetries = new Counter({
    name: `${METRICS_PREFIX}activity_retries_total`,
    help: 'Activity attempts that failed with a retryable failure (Temporal retries them), by activity and failure type.',
    labelNames: ['activity', 'type'] as const,
    registers: [this.registry],
  });
  private readonly reconciliationRuns = new Counter({
    name: `${METRICS_PREFIX}reconciliation_runs_total`,
    help: 'Reconciliation runs finished by this worker, by app id, status and whether it was a dry run.',
    labelNames: ['app', 'status', 'dry_run'] as const,
    registers: [this.registry],
  });
  private readonly reconciliationObjects = new Counter({
    name: `${METRICS_PREFIX}reconciliation_objects_total`,
    help: "Objects in finished reconciliation runs' reports, by app id, category and dry run (a dry run counts what it would have done).",
    labelNames: ['app', 'category', 'dry_run'] as const,
    registers: [this.registry],
  });
  private outboxWatched = false;
  /** Runs already counted (a retried `finishReconciliation` answers the same report again). */
  private readonly countedRuns = new Set<string>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric (gauges read from the store are read now). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  intentIssued(intent: string, appId: string): void {
    if (KNOWN_INTENTS.has(intent)) this.intentsIssued.inc({ intent, app: appId });
  }

  intentClosed(
    intent: string,
    appId: string,
    outcome: 'completed' | 'failed',
    durationSeconds: number,
  ): void {
    if (!KNOWN_INTENTS.has(intent)) return;
    (outcome === 'completed' ? this.intentsCompleted : this.intentsFailed).inc({ intent, app: appId });
    if (durationSeconds >= 0) this.intentDuration.observe({ intent, outcome }, durationSeconds);
  }

  scimExchange(appId: string, exchange: ScimExchange): void {
    const method = methodOf(exchange.method);
    const resource = scimResourceOf(exchange.path);
    this.scimRequests.inc({ app: appId, method, resource, status_class: statusClassOf(exchange.status) });
    this.scimDuration.observe({ app: appId, method, resource }, exchange.durationMs / 1000);
    if (exchange.status === 429) this.scimRateLimited.inc({ app: appId });
  }

  scimResent(appId: string): void {
    this.scimResends.inc({ app: appId });
  }

  scimHeldBack(appId: string): void {
    this.scimNotSent.inc({ app: appId });
  }

  activityRetry(activity: string, type: string): void {
    this.activityRetries.inc({ activity, type });
  }

  reconciliationFinished(
    report: Pick<ReconciliationReport, 'workflowId' | 'appId' | 'status' | 'dryRun' | 'counts'>,
  ): void {
    if (report.status === 'running' || this.countedRuns.has(report.workflowId)) return;
    this.countedRuns.add(report.workflowId);
    if (this.countedRuns.size > 1000) this.countedRuns.delete(this.countedRuns.values().next().value!);
    const dryRun = String(report.dryRun);
    this.reconciliationRuns.inc({ app: report.appId, status: report.status, dry_run: dryRun });
    for (const [category, count] of Object.entries(report.counts) as [ReconciliationCategory, number][]) {
      this.reconciliationObjects.inc({ app: report.appId, category, dry_run: dryRun }, count);
    }
  }

  /**
   * Outbox depth and the age of its oldest intent, read from the store at each scrape (one indexed query). Only
   * the API process watches the outbox: every process sharing the directory would report the same figures.
   */
  watchOutbox(read: () => Promise<OutboxBacklog>, now: () => number = Date.now): void {
    if (this.outboxWatched) return;
    this.outboxWatched = true;
    // Both gauges come from one read per scrape.
    let pending: Promise<OutboxBacklog> | null = null;
    const backlog = () => {
      // A store that does not answer leaves the gauges empty (NaN) rather than failing the whole scrape.
      pending ??= read()
        .catch((): OutboxBacklog => ({ depth: Number.NaN, oldestIssuedAt: null }))
        .finally(() => setImmediate(() => (pending = null)));
      return pending;
    };
    new Gauge({
      name: `${METRICS_PREFIX}outbox_depth`,
      help: 'Intents recorded in the outbox and not yet handed to Temporal.',
      registers: [this.registry],
      async collect() {
        this.set((await backlog()).depth);
      },
    });
    new Gauge({
      name: `${METRICS_PREFIX}outbox_oldest_age_seconds`,
      help: 'Age of the oldest intent not yet handed to Temporal; 0 when the outbox is empty.',
      registers: [this.registry],
      async collect() {
        const { depth, oldestIssuedAt } = await backlog();
        const age = oldestIssuedAt ? Math.max(0, (now() - Date.parse(oldestIssuedAt)) / 1000) : 0;
        this.set(Number.isNaN(depth) ? Number.NaN : age);
      },
    });
  }
}
