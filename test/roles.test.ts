import { Harness, type Operation } from './support/harness';
import { startScimServer, type ScimTestServer } from './support/scimServer';

type Remote = {
  userName: string;
  active?: boolean;
  roles?: { value: string }[];
  entitlements?: { value: string }[];
};
const valuesOf = (list: { value: string }[] | undefined) => (list ?? []).map((item) => item.value).sort();

/**
 * Given three apps, each on its own SCIM target: "full" receives roles and entitlements and is assigned both
 * billing permissions, "readOnly" receives both but is assigned only billing.read, "off" receives neither;
 * group Eng (Alice, Carol) is assigned to all three, and role Billing is carried by group Finance (Alice).
 */
describe('roles and entitlements', () => {
  let h: Harness;
  let readOnlyTarget: ScimTestServer;
  let offTarget: ScimTestServer;
  let apps: Record<'full' | 'readOnly' | 'off', { id: string }>;
  let alice: { id: string };
  let finance: { id: string };
  let role: { id: string };

  const remote = (target: ScimTestServer, userName: string) =>
    target.users().find((u) => u.userName === userName) as Remote | undefined;
  const settleAll = async (operations: Operation[]) => {
    const settled = await h.settle(operations);
    expect(settled.map((s) => s.status)).toEqual(settled.map(() => 'completed'));
    return settled;
  };

  beforeAll(async () => {
    h = await Harness.start();
    readOnlyTarget = await startScimServer();
    offTarget = await startScimServer();
    await h.ok('POST', '/api/permissions', { key: 'billing.read', description: 'Read invoices' });
    await h.ok('POST', '/api/permissions', { key: 'billing.write' });
    const receiving = { provisioning: { roles: true, permissions: true } };
    apps = {
      full: await h.createApp({ name: 'Full', ...receiving }),
      readOnly: await h.createApp({
        name: 'ReadOnly',
        baseUrl: readOnlyTarget.url,
        auth: { type: 'bearer', token: readOnlyTarget.token },
        ...receiving,
      }),
      off: await h.createApp({
        name: 'Off',
        baseUrl: offTarget.url,
        auth: { type: 'bearer', token: offTarget.token },
      }),
    };
    await h.ok('PUT', `/api/apps/${apps.full.id}/permissions`, { keys: ['billing.read', 'billing.write'] });
    await h.ok('PUT', `/api/apps/${apps.readOnly.id}/permissions`, { keys: ['billing.read'] });

    alice = await h.createUser('alice@example.com');
    const carol = await h.createUser('carol@example.com');
    finance = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Finance',
      memberIds: [alice.id],
    });
    role = await h.ok<{ id: string }>('POST', '/api/roles', {
      name: 'Billing',
      permissionKeys: ['billing.read'],
      groupIds: [finance.id],
    });
    const eng = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Eng',
      memberIds: [alice.id, carol.id],
    });
    for (const app of Object.values(apps)) await h.change('PUT', `/api/apps/${app.id}/groups/${eng.id}`);
  });
  afterAll(async () => {
    await h?.close();
    await readOnlyTarget?.close();
    await offTarget?.close();
  });

  it('shows a user its effective roles and permissions', async () => {
    const view = await h.ok<{ roles: string[]; permissions: string[] }>('GET', `/api/users/${alice.id}`);
    expect(view).toMatchObject({ roles: ['Billing'], permissions: ['billing.read'] });
  });

  it('creates users with their roles and the permissions assigned to the app; a switch off sends neither', async () => {
    expect(remote(h.scim, 'alice@example.com')).toMatchObject({
      roles: [{ value: 'Billing' }],
      entitlements: [{ value: 'billing.read' }],
    });
    expect(remote(readOnlyTarget, 'alice@example.com')).toMatchObject({
      roles: [{ value: 'Billing' }],
      entitlements: [{ value: 'billing.read' }],
    });
    expect(remote(h.scim, 'carol@example.com')?.roles).toEqual([]);
    const offAlice = remote(offTarget, 'alice@example.com');
    expect(offAlice).toBeDefined();
    expect(offAlice?.roles).toBeUndefined();
    expect(offAlice?.entitlements).toBeUndefined();
  });

  it('a permission added to the role reaches every holder in every app assigned that key, one PATCH per user and app', async () => {
    const marks = {
      full: h.scim.requests.length,
      readOnly: readOnlyTarget.requests.length,
      off: offTarget.requests.length,
    };

    const { body, settled } = await h.change('PATCH', `/api/roles/${role.id}`, {
      permissionKeys: ['billing.read', 'billing.write'],
    });

    expect((body.operations as Operation[]).map((op) => op.appId).sort()).toEqual(
      [apps.full.id, apps.readOnly.id].sort(),
    );
    expect(settled.map((s) => s.status)).toEqual(['completed', 'completed']);
    expect(valuesOf(remote(h.scim, 'alice@example.com')?.entitlements)).toEqual([
      'billing.read',
      'billing.write',
    ]);
    // billing.write is not assigned to readOnly: never sent there, so nothing to write.
    expect(valuesOf(remote(readOnlyTarget, 'alice@example.com')?.entitlements)).toEqual(['billing.read']);

    const userPatches = (target: ScimTestServer, mark: number) =>
      target.requests.slice(mark).filter((r) => r.method !== 'GET' && r.path.startsWith('/Users'));
    expect(userPatches(h.scim, marks.full).map((r) => r.body)).toEqual([
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [
          {
            op: 'replace',
            path: 'entitlements',
            value: [{ value: 'billing.read' }, { value: 'billing.write' }],
          },
        ],
      },
    ]);
    expect(userPatches(readOnlyTarget, marks.readOnly)).toEqual([]);
    expect(offTarget.requests.slice(marks.off)).toEqual([]);
  });

  it('a permission removed from the role is gone from every holder', async () => {
    const { settled } = await h.change('PATCH', `/api/roles/${role.id}`, {
      permissionKeys: ['billing.write'],
    });
    expect(settled.map((s) => s.status)).toEqual(['completed', 'completed']);
    expect(valuesOf(remote(h.scim, 'alice@example.com')?.entitlements)).toEqual(['billing.write']);
    expect(remote(readOnlyTarget, 'alice@example.com')?.entitlements ?? []).toEqual([]);
  });

  it('a user who leaves the group that carried the role loses the role and its entitlements in every app', async () => {
    const { settled } = await h.change('DELETE', `/api/groups/${finance.id}/members/${alice.id}`);
    expect(settled.map((s) => [s.intent, s.status])).toEqual([
      ['updateUser', 'completed'],
      ['updateUser', 'completed'],
    ]);
    for (const target of [h.scim, readOnlyTarget]) {
      const after = remote(target, 'alice@example.com');
      expect(after?.active).toBe(true);
      expect(after?.roles ?? []).toEqual([]);
      expect(after?.entitlements ?? []).toEqual([]);
    }
    expect(remote(offTarget, 'alice@example.com')?.roles).toBeUndefined();
  });

  it('concurrent role and membership changes end in the directory final state', async () => {
    const operations: Operation[] = [];
    const issue = async (method: 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
      operations.push(...(await h.ok<{ operations: Operation[] }>(method, url, body)).operations);
    };
    // Issued back to back, without waiting for any of them.
    await Promise.all([
      issue('PATCH', `/api/roles/${role.id}`, { permissionKeys: ['billing.read', 'billing.write'] }),
      issue('PUT', `/api/groups/${finance.id}/members/${alice.id}`),
    ]);
    await issue('DELETE', `/api/groups/${finance.id}/members/${alice.id}`);
    await issue('PUT', `/api/groups/${finance.id}/members/${alice.id}`);
    await issue('PATCH', `/api/roles/${role.id}`, { permissionKeys: ['billing.read'] });
    await settleAll(operations);

    const expected = await h.ok<{ roles: string[]; permissions: string[] }>('GET', `/api/users/${alice.id}`);
    expect(expected).toMatchObject({ roles: ['Billing'], permissions: ['billing.read'] });
    expect(valuesOf(remote(h.scim, 'alice@example.com')?.roles)).toEqual(['Billing']);
    expect(valuesOf(remote(h.scim, 'alice@example.com')?.entitlements)).toEqual(['billing.read']);
    expect(valuesOf(remote(readOnlyTarget, 'alice@example.com')?.entitlements)).toEqual(['billing.read']);
  });

  it('taking the role back through the group, and deleting it, are synced too; a re-run writes nothing', async () => {
    await settleAll(
      (await h.ok<{ operations: Operation[] }>('PUT', `/api/groups/${finance.id}/members/${alice.id}`))
        .operations,
    );
    expect(valuesOf(remote(h.scim, 'alice@example.com')?.roles)).toEqual(['Billing']);

    const deleted = await h.change('DELETE', `/api/roles/${role.id}`);
    expect(deleted.settled.map((s) => s.status)).toEqual(['completed', 'completed']);
    expect(remote(h.scim, 'alice@example.com')?.roles ?? []).toEqual([]);

    const mark = h.scim.requests.length;
    const [rerun] = await h.settle(
      await h.dispatcher.dispatch([
        { intent: 'syncRoleEntitlements', input: { appId: apps.full.id, allUsers: true }, summary: 'again' },
      ]),
    );
    expect(rerun).toMatchObject({ status: 'completed', result: { outcome: 'unchanged' } });
    expect(h.writesSince(mark)).toEqual([]);
  });
});
