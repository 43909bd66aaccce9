import type { ReconciliationReport } from '../src/directory/model';
import { reconciliationCategories } from '../src/directory/model';
import { serveMetrics } from '../src/metrics/http';
import { ScimflowMetrics, scimResourceOf, statusClassOf } from '../src/metrics/registry';
import { Harness } from './support/harness';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named so whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

const countBy = <T>(items: T[], key: (item: T) => string) => {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
};

describe('metrics: GET /metrics in Prometheus text format', () => {
  let h: Harness;
  // One registry for the worker and the API, as `npm start` has.
  const metrics = new ScimflowMetrics();
  beforeAll(async () => {
    h = await Harness.start({ metrics });
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => h.proxy.clearFaults());

  async function scrape(): Promise<Sample[]> {
    const response = await h.call<string>('GET', '/metrics');
    expect(response.status).toBe(200);
    return parse(response.body);
  }

  /** Scrapes until `check` passes: a run's end is counted by the worker just after its result is visible. */
  async function scrapeUntil(check: (samples: Sample[]) => void, timeoutMs = 10_000): Promise<Sample[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const samples = await scrape();
      try {
        check(samples);
        return samples;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  it('is behind the API token, like every route', async () => {
    expect((await h.call('GET', '/metrics', undefined, null)).status).toBe(401);
    expect((await h.call('GET', '/metrics', undefined, 'wrong-token-0123456789')).status).toBe(401);
    const response = await h.call<string>('GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.body).toContain('# TYPE scimflow_intents_issued_total counter');
    // The process's own metrics, under the same prefix.
    expect(response.body).toMatch(/^scimflow_process_cpu_user_seconds_total /m);
  });

  it('given a group of 3 assigned to an app and a reconciliation, the counters show what happened', async () => {
    h.scim.resetRequests();
    const app = await h.createApp();
    const users = await Promise.all(
      ['ann', 'ben', 'cat'].map((n) =>
        h.createUser(`${n}@metrics.example.com`, { displayName: `${n} Metrics` }),
      ),
    );
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Metrics Eng',
      memberIds: users.map((u) => u.id),
    });
    const { body, settled } = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.every((s) => s.status === 'completed')).toBe(true);
    const issued = countBy(body.operations as { intent: string }[], (o) => o.intent);

    // Drift by hand: ann's displayName edited, a user scimflow does not know added.
    const ann = h.remoteUser('ann@metrics.example.com');
    h.scim.updateUserDirectly(ann!.id, { displayName: 'Edited by hand' });
    h.scim.seedUser({ userName: 'stranger@metrics.example.com' });
    const { workflowId } = await h.ok<{ workflowId: string }>('POST', `/api/apps/${app.id}/reconcile`);
    const report = (await h.temporal.workflow.getHandle(workflowId).result()) as ReconciliationReport;
    expect(report.status).toBe('completed');
    expect(report.counts.updated).toBe(1);
    expect(report.counts.unmanaged).toBe(1);

    const samples = await scrapeUntil((s) => {
      for (const [intent, count] of Object.entries(issued)) {
        expect(total(s, 'scimflow_intents_completed_total', { intent, app: app.id })).toBe(count);
      }
      expect(total(s, 'scimflow_reconciliation_runs_total', { app: app.id })).toBe(1);
    });

    // Intents: issued by the API as its answer listed them, completed by the worker, none failed.
    for (const [intent, count] of Object.entries(issued)) {
      expect(total(samples, 'scimflow_intents_issued_total', { intent, app: app.id })).toBe(count);
    }
    expect(total(samples, 'scimflow_intents_failed_total', { app: app.id })).toBe(0);
    expect(
      total(samples, 'scimflow_intent_duration_seconds_count', { intent: 'createGroup' }),
    ).toBeGreaterThan(0);
    expect(
      total(samples, 'scimflow_intent_duration_seconds_bucket', { intent: 'createGroup', le: '+Inf' }),
    ).toBeGreaterThan(0);

    // SCIM calls: exactly what the target received, by method and status class, all under the app's id.
    const received = countBy(h.scim.requests, (r) => `${r.method} ${statusClassOf(r.status ?? 'error')}`);
    const counted: Record<string, number> = {};
    for (const s of samples.filter((s) => s.name === 'scimflow_scim_requests_total' && s.value > 0)) {
      expect(s.labels.app).toBe(app.id);
      const key = `${s.labels.method} ${s.labels.status_class}`;
      counted[key] = (counted[key] ?? 0) + s.value;
    }
    expect(counted).toEqual(received);
    const posts = h.scim.requests.filter((r) => r.method === 'POST' && scimResourceOf(r.path) === '/Users');
    expect(total(samples, 'scimflow_scim_requests_total', { method: 'POST', resource: '/Users' })).toBe(
      posts.length,
    );
    // Labels name resource types, never ids or userNames.
    const resources = new Set(
      samples.filter((s) => s.name === 'scimflow_scim_requests_total').map((s) => s.labels.resource),
    );
    expect([...resources].every((r) => ['/Users', '/Groups', '/ServiceProviderConfig'].includes(r))).toBe(
      true,
    );
    expect(total(samples, 'scimflow_scim_request_duration_seconds_count', { app: app.id })).toBe(
      h.scim.requests.length,
    );

    // The reconciliation's report, category by category.
    expect(
      total(samples, 'scimflow_reconciliation_runs_total', {
        app: app.id,
        status: 'completed',
        dry_run: 'false',
      }),
    ).toBe(1);
    for (const category of reconciliationCategories) {
      expect({
        category,
        count: total(samples, 'scimflow_reconciliation_objects_total', { app: app.id, category }),
      }).toEqual({ category, count: report.counts[category] });
    }

    // Everything handed over to Temporal.
    expect(total(samples, 'scimflow_outbox_depth')).toBe(0);
    expect(total(samples, 'scimflow_outbox_oldest_age_seconds')).toBe(0);
    expect(total(samples, 'scimflow_scim_rate_limited_total', { app: app.id })).toBe(0);
  });

  it('a 429 from the target shows in the 429 counter, and its retry in the retries', async () => {
    const { app, group } = await h.appWithAssignedGroup();
    const rita = await h.createUser('rita@metrics.example.com');
    h.proxy.failNext(
      { method: 'POST', pathPrefix: '/Users' },
      { type: 'status', status: 429, retryAfterSeconds: 1 },
    );

    const { settled } = await h.change('PUT', `/api/groups/${group.id}/members/${rita.id}`);

    expect(settled).toEqual([expect.objectContaining({ intent: 'provisionUser', status: 'completed' })]);
    const samples = await scrapeUntil((s) =>
      expect(total(s, 'scimflow_intents_completed_total', { intent: 'provisionUser', app: app.id })).toBe(1),
    );
    expect(total(samples, 'scimflow_scim_rate_limited_total', { app: app.id })).toBe(1);
    expect(
      total(samples, 'scimflow_scim_requests_total', {
        app: app.id,
        method: 'POST',
        resource: '/Users',
        status_class: '4xx',
      }),
    ).toBe(1);
    expect(
      total(samples, 'scimflow_scim_requests_total', {
        app: app.id,
        method: 'POST',
        resource: '/Users',
        status_class: '2xx',
      }),
    ).toBe(1);
    expect(
      total(samples, 'scimflow_activity_retries_total', {
        activity: 'createAndLinkRemoteUser',
        type: 'ScimRateLimited',
      }),
    ).toBe(1);
  });

  it('given an app with a rate limit, a 429 pauses it and the request is sent again: the resend is counted', async () => {
    const { app, group } = await h.appWithAssignedGroup({
      rateLimit: { requestsPerMinute: 600, burst: 10, applies: 'writes' },
    });
    const sara = await h.createUser('sara@metrics.example.com');
    h.proxy.failNext(
      { method: 'POST', pathPrefix: '/Users' },
      { type: 'status', status: 429, retryAfterSeconds: 1 },
    );

    const { settled } = await h.change('PUT', `/api/groups/${group.id}/members/${sara.id}`);

    expect(settled).toEqual([expect.objectContaining({ intent: 'provisionUser', status: 'completed' })]);
    const samples = await scrapeUntil((s) =>
      expect(total(s, 'scimflow_intents_completed_total', { intent: 'provisionUser', app: app.id })).toBe(1),
    );
    expect(total(samples, 'scimflow_scim_rate_limited_total', { app: app.id })).toBe(1);
    // Sent again by the pacer after the pause, within the same attempt: no activity retry.
    expect(total(samples, 'scimflow_scim_resends_total', { app: app.id })).toBe(1);
  });

  it('an intent the target refuses for good is counted failed, with its duration', async () => {
    const { app, group } = await h.appWithAssignedGroup();
    const tom = await h.createUser('tom@metrics.example.com');
    h.proxy.failNext({ method: 'POST', pathPrefix: '/Users' }, { type: 'status', status: 400 });

    const { settled } = await h.change('PUT', `/api/groups/${group.id}/members/${tom.id}`);

    expect(settled).toEqual([expect.objectContaining({ intent: 'provisionUser', status: 'failed' })]);
    const samples = await scrapeUntil((s) =>
      expect(total(s, 'scimflow_intents_failed_total', { intent: 'provisionUser', app: app.id })).toBe(1),
    );
    expect(total(samples, 'scimflow_intents_completed_total', { intent: 'provisionUser', app: app.id })).toBe(
      0,
    );
    expect(
      total(samples, 'scimflow_intent_duration_seconds_count', {
        intent: 'provisionUser',
        outcome: 'failed',
      }),
    ).toBe(1);
    // A final failure is not retried.
    expect(total(samples, 'scimflow_activity_retries_total', { type: 'ScimRejected' })).toBe(0);
  });
});

describe("the worker's metrics listener", () => {
  it('serves GET /metrics without a token, on the address it was given, and nothing else', async () => {
    const metrics = new ScimflowMetrics({ defaultMetrics: false });
    metrics.intentIssued('provisionUser', 'app-1');
    const listener = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
    try {
      const response = await fetch(listener.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      expect(await response.text()).toContain(
        'scimflow_intents_issued_total{intent="provisionUser",app="app-1"} 1',
      );
      expect((await fetch(listener.url.replace('/metrics', '/'))).status).toBe(404);
    } finally {
      await listener.close();
    }
  });
});
