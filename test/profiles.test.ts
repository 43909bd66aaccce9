/**
 * Real targets, as their vendors document them (test/support/emulators/): each profile provisions, updates and
 * deprovisions against an emulator of its app without breaking one documented rule, and — the idempotence
 * invariant — once the app holds what the directory says, a reconciliation writes nothing, on every target here,
 * including one that derives, normalises and ignores attributes as SaaS apps do.
 */
import type { ReconciliationReport } from '../src/directory/model';
import { type Emulator, type EmulatorKind, emulatorKinds, startEmulator } from './support/emulators';
import { Harness } from './support/harness';

jest.setTimeout(120_000);

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => {
  await h?.close();
});

const writes = (emulator: Emulator, since: number) =>
  emulator.requests.slice(since).filter((request) => request.method !== 'GET');

async function reconcile(appId: string): Promise<ReconciliationReport> {
  const started = await h.ok<{ workflowId: string }>('POST', `/api/apps/${appId}/reconcile`);
  return (await h.temporal.workflow.getHandle(started.workflowId).result()) as ReconciliationReport;
}

/** The app settings a test needs beyond the profile: GitHub's hourly budget would make this test take minutes. */
const testSettings: Partial<Record<EmulatorKind, Record<string, unknown>>> = {
  'github-emu': { rateLimit: { requestsPerMinute: 600, burst: 20, applies: 'writes' } },
};

describe.each(emulatorKinds)('against the %s emulator', (kind) => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator(kind);
  });
  afterAll(async () => {
    await emulator?.close();
  });

  test('provisioning, an update and a deprovisioning follow the app’s rules; then a reconciliation, and another right after it, write nothing', async () => {
    const tag = kind.replace(/[^a-z]/g, '');
    const profile = kind === 'deriving' ? 'generic' : kind;
    const app = await h.ok<{ id: string }>('POST', '/api/apps', {
      name: `Profile ${kind}`,
      baseUrl: emulator.url,
      auth: { type: 'bearer', token: emulator.token },
      profile,
      // Small pages: every walk through the app's lists takes several, by index or by cursor.
      reconcile: { pageSize: 2 },
      ...testSettings[kind],
    });
    const person = (name: string, extra: Record<string, unknown> = {}) =>
      h.createUser(`${name}.${tag}@example.com`, {
        name: { givenName: name, familyName: 'Tester' },
        displayName: `${name} Tester`,
        emails: [{ value: `${name}.${tag}@Example.com`, type: 'Work', primary: true }],
        ...extra,
      });
    const users = [
      await person('ann', { title: 'Engineer', department: 'R&D' }),
      // The directory has no displayName: apps that derive one keep theirs.
      await person('ben', { displayName: undefined, phoneNumbers: [{ value: '+1 555 0100', type: 'work' }] }),
      // A title longer than some apps keep, and a displayName other than the one they derive.
      await person('cat', { title: 'Principal Site Reliability Engineer, Platform', displayName: 'Cat T.' }),
      await person('dan'),
      await person('eve'),
    ];
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Crew ${tag}`,
      memberIds: users.map((user) => user.id),
    });
    const assigned = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    expect(assigned.settled.filter((s) => s.status !== 'completed')).toEqual([]);

    const retitled = await h.change('PATCH', `/api/users/${users[0].id}`, {
      title: 'Engineering Manager, Developer Experience',
    });
    const left = await h.change('DELETE', `/api/groups/${group.id}/members/${users[4].id}`);
    expect([...retitled.settled, ...left.settled].filter((s) => s.status !== 'completed')).toEqual([]);

    const first = await reconcile(app.id);
    expect(first.status).toBe('completed');
    expect(first.counts).toMatchObject({ created: 0, deprovisioned: 0, membershipsFixed: 0, errors: 0 });
    const beforeSecond = emulator.requests.length;
    const second = await reconcile(app.id);

    expect(writes(emulator, beforeSecond)).toEqual([]);
    expect(second.counts).toMatchObject({
      created: 0,
      updated: 0,
      deprovisioned: 0,
      membershipsFixed: 0,
      errors: 0,
      unchanged: 6,
    });

    // A second provisioning of the same users — another assigned group holding them, an update of a field the app
    // does not receive — writes no user.
    const beforeAgain = emulator.requests.length;
    const crewToo = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Crew too ${tag}`,
      memberIds: users.slice(0, 4).map((user) => user.id),
    });
    const again = await h.change('PUT', `/api/apps/${app.id}/groups/${crewToo.id}`);
    const untouched = await h.change('PATCH', `/api/users/${users[1].id}`, { externalId: `hr-${tag}` });
    expect([...again.settled, ...untouched.settled].filter((s) => s.status !== 'completed')).toEqual([]);
    expect(writes(emulator, beforeAgain).filter((w) => w.path.includes('/Users'))).toEqual([]);

    expect(emulator.violations()).toEqual([]);
    expect(emulator.rateLimited()).toBe(0);

    // What the app holds at the end: four members, the leaver deactivated, the update there.
    const held = emulator.users();
    const ann = held.find((user) => user.userName.toLowerCase() === users[0].userName.toLowerCase());
    const eve = held.find((user) => user.userName.toLowerCase() === users[4].userName.toLowerCase());
    expect(held).toHaveLength(5);
    expect(String((ann as Record<string, unknown>)?.title)).toMatch(/^Engineering Manager/);
    expect(eve?.active).toBe(false);
    const crew = emulator.groups().find((g) => g.displayName === `Crew ${tag}`);
    expect(emulator.groups().find((g) => g.displayName === `Crew too ${tag}`)?.members).toHaveLength(4);
    const memberIds = new Set(held.filter((user) => user !== eve).map((user) => user.id));
    expect(new Set((crew?.members ?? []).map((member) => member.value))).toEqual(memberIds);
  });
});

describe('against an app that derives, normalises and ignores attributes', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator('deriving');
  });
  afterAll(async () => {
    await emulator?.close();
  });

  test('what the app keeps its own way is recorded per user, reported, never written again — and written once more when the directory value changes', async () => {
    const app = await h.ok<{ id: string }>('POST', '/api/apps', {
      name: 'Deriving',
      baseUrl: emulator.url,
      auth: { type: 'bearer', token: emulator.token },
    });
    const fay = await h.createUser('fay@derived.example', {
      name: { givenName: 'Fay', familyName: 'Rowe' },
      displayName: 'Fay R.',
      title: 'Head of Customer Success, Europe, Middle East and Africa',
      phoneNumbers: [{ value: '+44 20 7946 0000', type: 'work' }],
    });
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Derived crew',
      memberIds: [fay.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

    const shown = await h.ok<{
      appManagedAttributes: { attribute: string; reason: string; objects: number }[];
    }>('GET', `/api/apps/${app.id}`);
    expect(shown.appManagedAttributes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ attribute: 'displayName', reason: 'changed', objects: 1 }),
        expect.objectContaining({ attribute: 'title', reason: 'changed', objects: 1 }),
        expect.objectContaining({ attribute: 'phoneNumbers', reason: 'ignored', objects: 1 }),
      ]),
    );
    const links = await h.ok<{ items: { localId: string; appManaged: { attribute: string }[] }[] }>(
      'GET',
      `/api/apps/${app.id}/links`,
    );
    const fayLink = links.items.find((link) => link.localId === fay.id);
    expect(fayLink?.appManaged.map((entry) => entry.attribute)).toEqual(
      expect.arrayContaining(['displayName', 'title', 'phoneNumbers']),
    );

    const before = emulator.requests.length;
    const report = await reconcile(app.id);
    expect(writes(emulator, before)).toEqual([]);
    expect(report.counts).toMatchObject({ updated: 0, unchanged: 2 });
    expect(report.appManagedAttributes.map((entry) => entry.attribute)).toEqual(
      expect.arrayContaining(['displayName', 'title', 'phoneNumbers']),
    );

    // A new directory value is the directory's to write, once.
    const changed = await h.change('PATCH', `/api/users/${fay.id}`, { displayName: 'Fay Rowe-Smith' });
    expect(changed.settled.map((s) => s.status)).toEqual(['completed']);
    const written = writes(emulator, before);
    expect(written.map((w) => `${w.method} ${w.path.replace(/\/[^/]+$/, '/:id')}`)).toEqual([
      'PATCH /Users/:id',
    ]);
    const afterChange = emulator.requests.length;
    await reconcile(app.id);
    await reconcile(app.id);
    // The first run read the derived name back and recorded it; nothing after that.
    expect(writes(emulator, afterChange).length).toBeLessThanOrEqual(1);

    // Forgetting lets scimflow try again.
    const forgotten = await h.ok<{ forgotten: number }>(
      'DELETE',
      `/api/apps/${app.id}/app-managed-attributes?attribute=title`,
    );
    expect(forgotten.forgotten).toBe(1);
    const beforeRetry = emulator.requests.length;
    await reconcile(app.id);
    expect(writes(emulator, beforeRetry).map((w) => w.method)).toEqual(['PATCH']);
  });
});

describe('a change of attribute mapping', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator('generic');
  });
  afterAll(async () => {
    await emulator?.close();
  });

  test('is shown by a dry run, then written by the next reconciliation; an attribute taken out of the mapping stays in the app', async () => {
    const app = await h.ok<{ id: string }>('POST', '/api/apps', {
      name: 'Mapped',
      baseUrl: emulator.url,
      auth: { type: 'bearer', token: emulator.token },
    });
    const gil = await h.createUser('gil@mapped.example', { title: 'Analyst', department: 'Finance' });
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Mapped',
      memberIds: [gil.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

    // The app wants the department where the title was; the title is no longer the directory's to write.
    await h.ok('PATCH', `/api/apps/${app.id}`, { attributeMapping: { title: 'department' } });
    const before = emulator.requests.length;
    const started = await h.ok<{ workflowId: string }>('POST', `/api/apps/${app.id}/reconcile`, {
      dryRun: true,
    });
    const dryRun = (await h.temporal.workflow.getHandle(started.workflowId).result()) as ReconciliationReport;
    expect(writes(emulator, before)).toEqual([]);
    expect(dryRun.objects.updated?.map((object) => `${object.name}: ${object.detail}`)).toEqual([
      `${gil.userName}: title`,
    ]);

    await reconcile(app.id);
    expect(emulator.users().find((user) => user.userName === gil.userName)).toMatchObject({
      title: 'Finance',
    });

    await h.ok('PATCH', `/api/apps/${app.id}`, { attributeMapping: { title: null } });
    const beforeOut = emulator.requests.length;
    const report = await reconcile(app.id);
    expect(writes(emulator, beforeOut)).toEqual([]);
    expect(report.counts).toMatchObject({ updated: 0 });
    expect(emulator.users().find((user) => user.userName === gil.userName)).toMatchObject({
      title: 'Finance',
    });
  });
});

describe('profiles as the API sees them', () => {
  test('an app whose settings its profile cannot honour is refused with the reasons; a valid one shows its effective settings', async () => {
    const refused = await h.call('POST', '/api/apps', {
      name: 'Okta-style',
      baseUrl: 'http://127.0.0.1:9/scim',
      auth: { type: 'bearer', token: 't' },
      profile: 'okta-compatible',
      deprovisionMode: 'delete',
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'profile-conflict' });
    expect(JSON.stringify(refused.body)).toContain('never delete users');

    const aws = await h.ok<Record<string, unknown> & { effective: Record<string, unknown> }>(
      'POST',
      '/api/apps',
      {
        name: 'AWS',
        baseUrl: 'http://127.0.0.1:9/scim',
        auth: { type: 'bearer', token: 't' },
        profile: 'aws-iam-identity-center',
        attributeMapping: { 'urn:acme:params:scim:schemas:extension:acme:2.0:User:costCenter': 'department' },
      },
    );
    expect(aws.effective).toMatchObject({
      membershipBatchSize: 100,
      groupMembersReadable: false,
      attributeMapping: expect.objectContaining({
        emails: 'primaryEmail',
        'urn:acme:params:scim:schemas:extension:acme:2.0:User:costCenter': 'department',
      }),
    });
  });

  test('a Slack app takes its profile’s rate limit; PATCH sets its own, null removes any, and "profile" brings the profile’s back', async () => {
    type AppView = { id: string; rateLimit?: unknown; effective: { rateLimit: unknown } };
    const slackLimit = { requestsPerMinute: 180, burst: 10, applies: 'writes' };
    const slack = await h.ok<AppView>('POST', '/api/apps', {
      name: 'Slack',
      baseUrl: 'http://127.0.0.1:9/scim',
      auth: { type: 'bearer', token: 't' },
      profile: 'slack',
    });
    expect(slack.effective.rateLimit).toEqual(slackLimit);

    const own = { requestsPerMinute: 60, burst: 2, applies: 'all' };
    const changes: [unknown, unknown][] = [
      [own, own],
      [null, null],
      ['profile', slackLimit],
    ];
    for (const [rateLimit, effective] of changes) {
      const patched = await h.ok<AppView>('PATCH', `/api/apps/${slack.id}`, { rateLimit });
      const read = await h.ok<AppView>('GET', `/api/apps/${slack.id}`);
      expect({ rateLimit, effective: patched.effective.rateLimit }).toEqual({ rateLimit, effective });
      expect(read.effective.rateLimit).toEqual(effective);
    }
    const bad = await h.call('PATCH', `/api/apps/${slack.id}`, { rateLimit: 'none' });
    expect(bad.status).toBe(400);
  });
});
