import { Harness, type Operation } from './support/harness';

describe('provisioning an app from its assigned group', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('given an app with group Eng of three users assigned, the target gets the users and the group with its members; when Bob leaves Eng he is deactivated and no longer a member; when Eng is renamed the target group is renamed', async () => {
    const app = await h.createApp({ name: 'Walkthrough' });
    const alice = await h.createUser('alice@example.com', { displayName: 'Alice', department: 'R&D' });
    const bob = await h.createUser('bob@example.com');
    const carol = await h.createUser('carol@example.com');
    const eng = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Eng',
      memberIds: [alice.id, bob.id, carol.id],
    });

    const assigned = await h.change('PUT', `/api/apps/${app.id}/groups/${eng.id}`);
    expect(assigned.settled.map((s) => [s.intent, s.status])).toEqual([['createGroup', 'completed']]);

    const remoteAlice = h.remoteUser('alice@example.com');
    expect(remoteAlice).toMatchObject({
      userName: 'alice@example.com',
      externalId: alice.id,
      active: true,
      displayName: 'Alice',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'R&D' },
    });
    const remoteIds = ['alice@example.com', 'bob@example.com', 'carol@example.com'].map(
      (u) => h.remoteUser(u)?.id,
    );
    expect(remoteIds.every(Boolean)).toBe(true);
    expect(
      h
        .remoteGroup('Eng')
        ?.members?.map((m) => m.value)
        .sort(),
    ).toEqual([...remoteIds].sort());

    const bobLeaves = await h.change('DELETE', `/api/groups/${eng.id}/members/${bob.id}`);
    expect(bobLeaves.settled.map((s) => s.intent).sort()).toEqual(['deprovisionUser', 'syncGroupMembership']);
    expect(bobLeaves.settled.every((s) => s.status === 'completed')).toBe(true);
    expect(h.remoteUser('bob@example.com')?.active).toBe(false);
    expect(h.remoteGroup('Eng')?.members?.map((m) => m.value)).not.toContain(
      h.remoteUser('bob@example.com')?.id,
    );
    expect(h.remoteGroup('Eng')?.members).toHaveLength(2);

    await h.change('PATCH', `/api/groups/${eng.id}`, { displayName: 'Engineering' });
    expect(h.remoteGroup('Eng')).toBeUndefined();
    expect(h.remoteGroup('Engineering')?.members).toHaveLength(2);

    const links = await h.ok<{ items: { resourceType: string; status: string }[] }>(
      'GET',
      `/api/apps/${app.id}/links`,
    );
    expect(
      links.items
        .filter((l) => l.resourceType === 'User')
        .map((l) => l.status)
        .sort(),
    ).toEqual(['deprovisioned', 'synced', 'synced']);
  });

  it('keeps the SCIM credentials out of every workflow history', async () => {
    const app = await h.createApp({ auth: { type: 'bearer', token: h.scim.token } });
    const olga = await h.createUser('olga@example.com');
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Secret',
      memberIds: [olga.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    await h.change('PATCH', `/api/users/${olga.id}`, { title: 'Changed' });

    // Decoded, as an operator with the key reads them: the directory's data is there, the credentials are not.
    const texts: string[] = [];
    let runs = 0;
    for await (const run of h.temporal.workflow.list({ query: `ScimAppId = '${app.id}'` })) {
      texts.push(...(await h.decodedHistoryTexts(run.workflowId, run.runId)));
      runs++;
    }
    // createGroup (which provisions Olga) and updateUser.
    expect(runs).toBe(2);
    expect(texts.join('\n')).toContain('olga@example.com');
    expect(texts.join('\n')).not.toContain(h.scim.token);
  });

  it('lists every run of an app through the ScimAppId search attribute, with status and a Temporal UI link', async () => {
    const app = await h.createApp();
    const dana = await h.createUser('dana@example.com');
    const ops = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Ops',
      memberIds: [dana.id],
    });
    const { body } = await h.change('PUT', `/api/apps/${app.id}/groups/${ops.id}`);
    const [operation] = body.operations as Operation[];
    expect(operation.workflowId).toMatch(new RegExp(`^createGroup:${app.id}:${ops.id}:\\d+$`));

    const query = `ScimAppId = '${app.id}' AND ScimIntent = 'createGroup'`;
    let found: string[] = [];
    for (let attempt = 0; attempt < 50 && found.length === 0; attempt++) {
      found = [];
      for await (const run of h.temporal.workflow.list({ query })) found.push(run.workflowId);
      if (found.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(found).toEqual([operation.workflowId]);

    // The list comes from Temporal's visibility store, which may trail the run's close by a moment.
    let listed: { workflowId: string; status: string }[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      listed = (
        await h.ok<{ items: { workflowId: string; status: string }[] }>(
          'GET',
          `/api/operations?appId=${app.id}&intent=createGroup`,
        )
      ).items;
      if (listed[0]?.status === 'completed') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(listed.map((i) => [i.workflowId, i.status])).toEqual([[operation.workflowId, 'completed']]);

    const detail = await h.ok<{
      status: string;
      result: { outcome: string };
      uiUrl: string;
      resourceId: string;
    }>('GET', `/api/operations/${encodeURIComponent(operation.workflowId)}`);
    expect(detail).toMatchObject({ status: 'completed', resourceId: ops.id, result: { outcome: 'written' } });
    expect(detail.uiUrl).toContain(`/workflows/${encodeURIComponent(operation.workflowId)}`);
  });
});
