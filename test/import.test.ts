import type { ImportReport } from '../src/provisioning/import';
import { Harness, type Operation } from './support/harness';

describe('importFromApp: adopting what an app already holds', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function runImport(appId: string, body: Record<string, unknown>) {
    const started = await h.ok<{ workflowId: string; operations: Operation[] }>(
      'POST',
      `/api/apps/${appId}/import`,
      body,
    );
    const [settled] = await h.settle(started.operations);
    expect(settled.status).toBe('completed');
    const operation = await h.ok<{ intent: string; status: string; result: ImportReport }>(
      'GET',
      `/api/operations/${encodeURIComponent(started.workflowId)}`,
    );
    expect(operation).toMatchObject({ intent: 'importFromApp', status: 'completed' });
    return operation.result;
  }

  const findUser = async (userName: string) =>
    (
      await h.ok<{ items: { id: string; userName: string; groupIds: string[] }[] }>(
        'GET',
        `/api/users?userName=${encodeURIComponent(userName)}`,
      )
    ).items[0];
  const findGroup = async (displayName: string) =>
    (
      await h.ok<{ items: { id: string; memberIds: string[] }[] }>(
        'GET',
        `/api/groups?displayName=${encodeURIComponent(displayName)}`,
      )
    ).items[0];

  it('given a target pre-filled with users and groups, an import creates and links them, and provisioning afterwards writes nothing new', async () => {
    const seeded = {
      ivy: h.scim.seedUser({
        userName: 'ivy@acme.example',
        name: { givenName: 'Ivy', familyName: 'Imported' },
        displayName: 'Ivy I.',
        emails: [{ value: 'ivy@acme.example', type: 'work', primary: true }],
        title: 'Engineer',
        active: true,
      }),
      jon: h.scim.seedUser({
        userName: 'jon@acme.example',
        emails: [{ value: 'jon@acme.example', type: 'work', primary: true }],
        active: true,
      }),
      kim: h.scim.seedUser({ userName: 'kim@acme.example', active: false }),
    };
    h.scim.seedGroup({ displayName: 'Sales', members: [{ value: seeded.ivy.id }, { value: seeded.jon.id }] });
    h.scim.seedGroup({ displayName: 'Support', members: [{ value: seeded.kim.id }] });
    // kim is already in the directory: linked, not created again.
    const kim = await h.createUser('KIM@acme.example');
    const app = await h.createApp({ name: 'Acme CRM' });
    const before = h.scim.requests.length;

    const report = await runImport(app.id, { groups: true });

    expect(report).toMatchObject({
      outcome: 'written',
      counts: { created: 2, linked: 1, groupsCreated: 2, membershipsAdded: 3, errors: 0 },
      importGroup: { displayName: 'Imported from Acme CRM' },
      errors: [],
    });
    expect(h.writesSince(before)).toEqual([]);

    const ivy = await findUser('ivy@acme.example');
    expect(await h.ok('GET', `/api/users/${ivy.id}`)).toMatchObject({
      userName: 'ivy@acme.example',
      name: { givenName: 'Ivy', familyName: 'Imported' },
      displayName: 'Ivy I.',
      emails: [{ value: 'ivy@acme.example', type: 'work', primary: true }],
      title: 'Engineer',
      active: true,
    });
    const jon = await findUser('jon@acme.example');
    const imported = await findGroup('Imported from Acme CRM');
    expect(imported.memberIds.sort()).toEqual([ivy.id, jon.id, kim.id].sort());
    expect((await findGroup('Sales')).memberIds.sort()).toEqual([ivy.id, jon.id].sort());
    expect((await findGroup('Support')).memberIds).toEqual([kim.id]);

    const links = await h.ok<{
      items: { resourceType: string; localId: string; remoteId: string; status: string }[];
    }>('GET', `/api/apps/${app.id}/links`);
    expect(
      links.items
        .filter((l) => l.resourceType === 'User')
        .map((l) => [l.localId, l.remoteId, l.status])
        .sort(),
    ).toEqual(
      [
        [ivy.id, seeded.ivy.id, 'imported'],
        [jon.id, seeded.jon.id, 'imported'],
        [kim.id, seeded.kim.id, 'imported'],
      ].sort(),
    );

    // A reconciliation leaves the imported objects alone while no group of theirs is assigned.
    const sincePlain = h.scim.requests.length;
    const started = await h.ok<{ workflowId: string }>('POST', `/api/apps/${app.id}/reconcile`, {});
    const reconciled = (await h.temporal.workflow.getHandle(started.workflowId).result()) as {
      counts: Record<string, number>;
    };
    expect(reconciled.counts).toMatchObject({ created: 0, updated: 0, deprovisioned: 0, imported: 5 });
    expect(h.writesSince(sincePlain)).toEqual([]);

    // Assigning the imported Sales group: everything is linked already, so nothing is created or re-sent.
    const sales = await findGroup('Sales');
    const sinceAssign = h.scim.requests.length;
    const { settled } = await h.change('PUT', `/api/apps/${app.id}/groups/${sales.id}`);
    expect(settled).toEqual([
      expect.objectContaining({
        intent: 'createGroup',
        status: 'completed',
        result: expect.objectContaining({ outcome: 'unchanged' }),
      }),
    ]);
    expect(h.writesSince(sinceAssign)).toEqual([]);
    expect(h.scim.users().filter((u) => u.userName.endsWith('@acme.example'))).toHaveLength(3);
    expect(h.scim.groups().filter((g) => g.displayName === 'Sales')).toHaveLength(1);
  });

  it('a second import reuses the import group and links nothing twice', async () => {
    const app = await h.createApp({ name: 'Twice' });
    h.scim.seedUser({ userName: 'first@twice.example', active: true });
    const first = await runImport(app.id, {});
    expect(first.counts).toMatchObject({ created: 1, errors: 0 });
    h.scim.seedUser({ userName: 'second@twice.example', active: true });

    const second = await runImport(app.id, {});

    expect(second.counts).toMatchObject({ created: 1, linked: 0, errors: 0 });
    expect(second.importGroup).toEqual(first.importGroup);
    // Every user of the shared test target is linked to this app now, each once.
    expect(second.alreadyLinked.users).toBeGreaterThanOrEqual(1);
    const group = await findGroup('Imported from Twice');
    expect(group.id).toBe(first.importGroup?.id);
    expect(group.memberIds).toContain((await findUser('second@twice.example')).id);
  });

  it('a user already linked to another object of the app is reported, not linked twice', async () => {
    const app = await h.createApp({ name: 'Clash', userMatchAttribute: 'email' });
    h.scim.seedUser({
      userName: 'one@clash.example',
      emails: [{ value: 'same@clash.example' }],
      active: true,
    });
    h.scim.seedUser({
      userName: 'two@clash.example',
      emails: [{ value: 'same@clash.example' }],
      active: true,
    });
    await h.createUser('owner@clash.example', { emails: [{ value: 'same@clash.example', primary: true }] });

    const report = await runImport(app.id, { users: true });

    // (The shared test target also holds the other tests' users, which this app's import meets too.)
    const clashing = report.errors.filter((e) => e.name.endsWith('@clash.example'));
    expect(clashing).toEqual([
      expect.objectContaining({ resourceType: 'User', error: expect.stringContaining('is already linked') }),
    ]);
    const owner = await findUser('owner@clash.example');
    expect((await h.store.getLink(app.id, 'User', owner.id))?.status).toBe('imported');
  });
});
