import { ScheduleNotFoundError } from '@temporalio/client';
import type { ReconciliationReport } from '../src/directory/model';
import { scimAppId, scimIntent } from '../src/shared/searchAttributes';
import { ReconcileSchedules } from '../src/temporal/schedules';
import { Harness } from './support/harness';

describe('the reconciliation schedule of an app', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const schedule = (appId: string) => h.temporal.schedule.getHandle(`reconcile:${appId}`);

  it('given an app with a 1-minute interval, its schedule is created with it, fires (triggered here), and its run repairs drift and is reported', async () => {
    const app = await h.createApp({ name: 'Scheduled', reconcile: { intervalMinutes: 1 } });
    const sam = await h.createUser('sam@scheduled.example');
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Scheduled',
      memberIds: [sam.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

    const described = await schedule(app.id).describe();
    expect(described.spec.intervals).toEqual([{ every: 60_000, offset: expect.any(Number) }]);
    expect(described.policies.overlap).toBe('SKIP');
    expect(described.state.paused).toBe(false);
    expect(described.action).toMatchObject({ workflowType: 'reconcileApp', args: [{ appId: app.id }] });
    // The next firing comes within the interval: it fires by itself too.
    const nextRun = described.info.nextActionTimes[0].getTime();
    expect(nextRun - Date.now()).toBeLessThanOrEqual(61_000);
    const view = await h.ok<{ intervalMinutes: number; paused: boolean; nextRunAt: string }>(
      'GET',
      `/api/apps/${app.id}/schedule`,
    );
    expect(view).toMatchObject({ intervalMinutes: 1, paused: false });

    h.scim.deleteUserDirectly(h.remoteUser('sam@scheduled.example')!.id);
    await schedule(app.id).trigger();
    let workflowId: string | undefined;
    for (const deadline = Date.now() + 20_000; !workflowId && Date.now() < deadline;) {
      workflowId = (await schedule(app.id).describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(workflowId).toMatch(new RegExp(`^reconcile:${app.id}-`));
    const report = (await h.temporal.workflow.getHandle(workflowId!).result()) as ReconciliationReport;

    expect(report).toMatchObject({ status: 'completed', counts: { created: 1, errors: 0 } });
    expect(h.remoteUser('sam@scheduled.example')).toMatchObject({ externalId: sam.id, active: true });
    const run = await h.temporal.workflow.getHandle(workflowId!).describe();
    expect(run.typedSearchAttributes.get(scimAppId)).toBe(app.id);
    expect(run.typedSearchAttributes.get(scimIntent)).toBe('reconcileApp');
    const listed = await h.ok<{ items: { workflowId: string; status: string }[] }>(
      'GET',
      `/api/apps/${app.id}/reconciliations`,
    );
    expect(listed.items).toEqual([expect.objectContaining({ workflowId, status: 'completed' })]);
    await h.ok('DELETE', `/api/apps/${app.id}`);
  });

  it('follows the app: a new interval updates it, pause and resume through the API, and deleting the app deletes it', async () => {
    const app = await h.createApp({ name: 'Follows' });
    expect((await schedule(app.id).describe()).spec.intervals?.[0].every).toBe(60 * 60_000);

    await h.ok('PATCH', `/api/apps/${app.id}`, { reconcile: { intervalMinutes: 5 } });
    expect((await schedule(app.id).describe()).spec.intervals?.[0].every).toBe(5 * 60_000);

    expect(await h.ok('POST', `/api/apps/${app.id}/schedule/pause`)).toMatchObject({ paused: true });
    expect((await schedule(app.id).describe()).state.paused).toBe(true);
    // Changing the app keeps a paused schedule paused.
    await h.ok('PATCH', `/api/apps/${app.id}`, { name: 'Follows (renamed)' });
    expect((await schedule(app.id).describe()).state.paused).toBe(true);
    expect(await h.ok('POST', `/api/apps/${app.id}/schedule/resume`)).toMatchObject({ paused: false });
    expect((await schedule(app.id).describe()).state.paused).toBe(false);

    await h.ok('DELETE', `/api/apps/${app.id}`);
    await expect(schedule(app.id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect((await h.call('POST', `/api/apps/${app.id}/schedule/pause`)).status).toBe(404);
  });

  it('refuses an interval under one minute', async () => {
    const response = await h.call('POST', '/api/apps', {
      name: 'Too often',
      baseUrl: h.proxy.url,
      auth: { type: 'bearer', token: h.scim.token },
      reconcile: { intervalMinutes: 0 },
    });
    expect(response.status).toBe(400);
  });
  it('given two API processes starting at once, when both ensure an app whose schedule is missing, then both succeed (one creates it, the other updates it)', async () => {
    const app = await h.createApp({ name: 'Two APIs' });
    await schedule(app.id).delete();
    const errors: unknown[] = [];
    const apiProcess = () =>
      new ReconcileSchedules(h.temporal, {
        taskQueue: h.taskQueue,
        onError: (_appId, error) => errors.push(error),
      });
    const directoryApp = await h.store.getApp(app.id);

    const ensured = await Promise.all([
      apiProcess().upsert(directoryApp!),
      apiProcess().upsert(directoryApp!),
    ]);

    // The schedule id is the app's: Temporal holds at most one; the second creator updated it instead of failing.
    expect(errors).toEqual([]);
    expect(ensured).toEqual([true, true]);
    expect((await schedule(app.id).describe()).action).toMatchObject({ args: [{ appId: app.id }] });
  });
});
