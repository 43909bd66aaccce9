/**
 * Provisioning on demand: one user or group of one app brought in line now
 * (`POST /api/apps/:id/links/:resourceType/:localId/sync`), as Entra's "provision on demand" does.
 */
import { Harness, type Operation } from './support/harness';

jest.setTimeout(60_000);

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => {
  await h?.close();
});

type SyncAnswer = { operations: Operation[] };

test('given a user deleted in the app by hand, when it is synced on demand, then it is in the app again, under a new link', async () => {
  const { app, group } = await h.appWithAssignedGroup();
  const ida = await h.createUser('ida@ondemand.example', { title: 'Nurse' });
  await h.change('PUT', `/api/groups/${group.id}/members/${ida.id}`);
  const before = h.remoteUser(ida.userName);
  expect(before).toBeDefined();
  h.scim.deleteUserDirectly(before!.id);

  const answer = await h.ok<SyncAnswer>('POST', `/api/apps/${app.id}/links/User/${ida.id}/sync`);
  const settled = await h.settle(answer.operations);

  expect(settled.map((s) => [s.intent, s.status])).toEqual([['updateUser', 'completed']]);
  const again = h.remoteUser(ida.userName);
  expect(again).toMatchObject({ title: 'Nurse' });
  expect(again!.id).not.toBe(before!.id);
  const links = await h.ok<{ items: { localId: string; remoteId: string; status: string }[] }>(
    'GET',
    `/api/apps/${app.id}/links`,
  );
  expect(links.items.find((link) => link.localId === ida.id)).toMatchObject({
    remoteId: again!.id,
    status: 'synced',
  });
});

test('given a user in the app’s scope the app does not hold yet, when it is synced on demand, then it is provisioned', async () => {
  const { app, group } = await h.appWithAssignedGroup({ provisioning: { createUsers: false } });
  const jon = await h.createUser('jon@ondemand.example');
  await h.change('PUT', `/api/groups/${group.id}/members/${jon.id}`);
  expect(h.remoteUser(jon.userName)).toBeUndefined();
  await h.ok('PATCH', `/api/apps/${app.id}`, { provisioning: { createUsers: true } });

  const answer = await h.ok<SyncAnswer>('POST', `/api/apps/${app.id}/links/User/${jon.id}/sync`);

  expect((await h.settle(answer.operations)).map((s) => [s.intent, s.status])).toEqual([
    ['provisionUser', 'completed'],
  ]);
  expect(h.remoteUser(jon.userName)).toBeDefined();
});

test('given a group of the app, when it is synced on demand, then its members are brought in line', async () => {
  const { app, group } = await h.appWithAssignedGroup();
  const kim = await h.createUser('kim@ondemand.example');
  await h.change('PUT', `/api/groups/${group.id}/members/${kim.id}`);

  const answer = await h.ok<SyncAnswer>('POST', `/api/apps/${app.id}/links/Group/${group.id}/sync`);

  expect((await h.settle(answer.operations)).map((s) => [s.intent, s.status])).toEqual([
    ['syncGroupMembership', 'completed'],
  ]);
  const remote = h.scim.groups().find((g) => g.externalId === group.id);
  expect((remote?.members ?? []).map((m) => m.value)).toEqual([h.remoteUser(kim.userName)!.id]);
});

test('given objects out of the app’s scope or unknown, then the sync is refused and nothing starts', async () => {
  const { app } = await h.appWithAssignedGroup();
  const lou = await h.createUser('lou@ondemand.example');
  const other = await h.ok<{ id: string }>('POST', '/api/groups', { displayName: 'Not assigned on demand' });
  const before = h.scim.requests.length;

  const user = await h.call('POST', `/api/apps/${app.id}/links/User/${lou.id}/sync`);
  const groupOut = await h.call('POST', `/api/apps/${app.id}/links/Group/${other.id}/sync`);
  const unknown = await h.call('POST', `/api/apps/${app.id}/links/User/no-such-user/sync`);
  const badType = await h.call('POST', `/api/apps/${app.id}/links/Role/${lou.id}/sync`);

  expect([user.status, groupOut.status, unknown.status, badType.status]).toEqual([409, 409, 404, 400]);
  expect(user.body).toMatchObject({ error: 'not-in-scope' });
  expect(h.scim.requests.length).toBe(before);
});
