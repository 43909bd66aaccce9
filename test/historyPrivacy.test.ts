import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import axios from 'axios';
import { Worker } from '@temporalio/worker';
import { codecEndpoint } from '../src/api/routes/codec';
import type { ReconciliationReport } from '../src/directory/model';
import { findTemporalCli } from '../src/temporal/devServer';
import { temporalDataConverter } from '../src/temporal/payloadCodec';
import { API_TOKEN, Harness, type Operation } from './support/harness';

const run = promisify(execFile);

/** Every string of a JSON export, and what each base64 one decodes to (a payload the CLI prints as base64). */
function readableText(json: unknown): string {
  const strings: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      strings.push(value);
      if (/^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0) {
        strings.push(Buffer.from(value, 'base64').toString('utf8'));
      }
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object')
      Object.entries(value).forEach(([k, v]) => (walk(k), walk(v)));
  };
  walk(json);
  return strings.join('\n');
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** The payloads of an exported history (or description), wherever they sit. */
function payloadsIn(json: unknown): JsonPayload[] {
  const found: JsonPayload[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (record.metadata && typeof record.metadata === 'object' && 'encoding' in record.metadata) {
        found.push(record as JsonPayload);
      } else Object.values(record).forEach(walk);
    }
  };
  walk(json);
  return found;
}

const metadataText = (payload: JsonPayload, key: string) =>
  Buffer.from(payload.metadata?.[key] ?? '', 'base64').toString('utf8');

describe('personal data in Temporal histories', () => {
  let h: Harness;
  let cli: string;
  // Letters g–v only: no id, run id or hash in an export (hex) can hold it by chance.
  const marker = randomUUID()
    .slice(0, 8)
    .replace(/[0-9a-f]/g, (digit) => 'ghijklmnopqrstuv'[parseInt(digit, 16)]);
  const person = {
    userName: `zelda.${marker}@privacy.example`,
    email: `z.quixley.${marker}@mail.privacy.example`,
    givenName: `Zeldarine${marker}`,
    familyName: `Quixley${marker}`,
  };
  /** What later changes give the user, the names of a group she is in, and a user the app already held. */
  const later = {
    email: `zq.${marker}@newmail.privacy.example`,
    title: `Archivist${marker}`,
    team: `Zelda's circle ${marker}`,
    renamedTeam: `Quixley kin ${marker}`,
    importedUserName: `yorick.${marker}@privacy.example`,
    importedFamilyName: `Yoricksson${marker}`,
    /** Her userName with a fullwidth ｚ: another user to the app, the same to the directory. */
    lookalikeUserName: `\uff5aelda.${marker}@privacy.example`,
  };
  let appId: string;
  let intentWorkflowId: string;
  /** Every kind of run the app has; a reconciliation's workflow id begins with `reconcile`. */
  const intents = [
    'createGroup',
    'deleteGroup',
    'deprovisionUser',
    'importFromApp',
    'provisionUser',
    'reconcile',
    'syncGroupMembership',
    'syncRoleEntitlements',
    'updateGroup',
    'updateUser',
  ];
  /** The workflow ids of the runs after the first provisioning, by intent. */
  const runs: Record<string, string[]> = {};

  const temporalCli = async (args: string[]): Promise<unknown> => {
    const address = process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS!;
    const { stdout } = await run(cli, [...args, '--address', address, '--output', 'json'], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout);
  };

  /** What anyone with read access to the cluster sees of the app: every run's history and description. */
  const exportApp = async (codecArgs: string[] = []) => {
    const listed = (await temporalCli([
      'workflow',
      'list',
      '--query',
      `ScimAppId = "${appId}"`,
      ...codecArgs,
    ])) as { execution: { workflowId: string; runId: string } }[];
    // Each run by its id (a workflow id may have had several), a few CLI processes at a time on two cores.
    const executions = listed.map((listing) => listing.execution);
    const exports: unknown[] = [];
    for (let i = 0; i < executions.length; i += 8) {
      exports.push(
        ...(await Promise.all(
          executions.slice(i, i + 8).flatMap(({ workflowId, runId }) => {
            const execution = ['--workflow-id', workflowId, '--run-id', runId, ...codecArgs];
            return [
              temporalCli(['workflow', 'show', ...execution]),
              temporalCli(['workflow', 'describe', ...execution]),
            ];
          }),
        )),
      );
    }
    const workflowIds = [...new Set(executions.map((execution) => execution.workflowId))];
    /** What the runs of one kind show (`intents`). */
    const textOfIntent = (intent: string) =>
      readableText(
        exports.filter((_, n) => executions[Math.floor(n / 2)].workflowId.startsWith(`${intent}:`)),
      );
    return { workflowIds, exports, text: readableText([listed, exports]), textOfIntent };
  };

  /** Runs a directory change and records its intents' runs, each of which must have completed. */
  const changeCompletely = async (
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
  ) => {
    const { body: answer, settled } = await h.change(method, url, body);
    expect(settled.map(({ intent, status }) => `${intent} ${status}`)).toEqual(
      settled.map(({ intent }) => `${intent} completed`),
    );
    for (const { intent, workflowId } of settled) (runs[intent] ??= []).push(workflowId);
    return answer;
  };

  beforeAll(async () => {
    h = await Harness.start();
    cli = await findTemporalCli({
      projectRoot: path.resolve(__dirname, '..'),
      explicitPath: process.env.TEMPORAL_CLI_PATH,
    });

    // Given a user provisioned through the API, whose first create was refused with an answer quoting them,
    // to an app that receives roles
    const { app, group } = await h.appWithAssignedGroup({ provisioning: { roles: true } });
    appId = app.id;
    const user = await h.createUser(person.userName, {
      name: { givenName: person.givenName, familyName: person.familyName },
      emails: [{ value: person.email, type: 'work', primary: true }],
    });
    h.proxy.failNext(
      { method: 'POST', pathPrefix: '/Users' },
      {
        type: 'status',
        status: 503,
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          status: '503',
          detail: `cannot create ${person.userName} (${person.email}) right now`,
        },
      },
    );
    const joined = await h.change('PUT', `/api/groups/${group.id}/members/${user.id}`);
    expect(joined.settled).toEqual([
      expect.objectContaining({ intent: 'provisionUser', status: 'completed' }),
    ]);
    intentWorkflowId = joined.settled[0].workflowId;
    expect(h.remoteUser(person.userName)).toBeDefined();
    expect(h.proxy.received.some((request) => request.status === 503)).toBe(true);

    // and every other intent that carries her data or her group's name run for the app: she changes her e-mail
    // address and title,
    await changeCompletely('PATCH', `/api/users/${user.id}`, {
      title: later.title,
      emails: [{ value: later.email, type: 'work', primary: true }],
    });
    expect(h.remoteUser(person.userName)).toMatchObject({ title: later.title });
    // joins a group of her own name that is assigned to the app, which carries a role, and is renamed,
    const team = await h.ok<{ id: string }>('POST', '/api/groups', { displayName: later.team });
    await changeCompletely('PUT', `/api/apps/${appId}/groups/${team.id}`);
    await changeCompletely('PUT', `/api/groups/${team.id}/members/${user.id}`);
    await changeCompletely('POST', '/api/roles', { name: 'Archive keeper', groupIds: [team.id] });
    await changeCompletely('PATCH', `/api/groups/${team.id}`, { displayName: later.renamedTeam });
    expect(h.remoteGroup(later.renamedTeam)?.members?.map((member) => member.value)).toEqual([
      h.remoteUser(person.userName)!.id,
    ]);
    // users of the app are imported: one unknown to the directory, and one it takes for her (refused),
    h.scim.seedUser({
      userName: later.importedUserName,
      name: { givenName: 'Yorick', familyName: later.importedFamilyName },
      emails: [{ value: later.importedUserName, type: 'work', primary: true }],
      active: true,
    });
    h.scim.seedUser({ userName: later.lookalikeUserName, active: true });
    const imported = await h.ok<{ workflowId: string; operations: Operation[] }>(
      'POST',
      `/api/apps/${appId}/import`,
      { groups: true },
    );
    const [importRun] = await h.settle(imported.operations);
    expect(importRun).toMatchObject({
      intent: 'importFromApp',
      status: 'completed',
      result: {
        counts: { created: 1, errors: 1 },
        errors: [expect.objectContaining({ name: later.lookalikeUserName })],
      },
    });
    runs.importFromApp = [importRun.workflowId];
    // her title is changed by hand in the app and a reconciliation puts it back,
    h.scim.updateUserDirectly(h.remoteUser(person.userName)!.id, { title: `Changed by hand ${marker}` });
    const reconciliation = await h.ok<{ workflowId: string }>('POST', `/api/apps/${appId}/reconcile`, {});
    const reconciled = (await h.temporal.workflow
      .getHandle(reconciliation.workflowId)
      .result()) as ReconciliationReport;
    expect(reconciled).toMatchObject({ status: 'completed', counts: { updated: 1 } });
    expect(h.remoteUser(person.userName)).toMatchObject({ title: later.title });
    runs.reconcileApp = [reconciliation.workflowId];
    // her group is taken from the app, and she is deactivated
    await changeCompletely('DELETE', `/api/apps/${appId}/groups/${team.id}`);
    expect(h.remoteGroup(later.renamedTeam)).toBeUndefined();
    await changeCompletely('PATCH', `/api/users/${user.id}`, { active: false });
    expect(h.remoteUser(person.userName)).toMatchObject({ active: false });
    expect(runs.deprovisionUser).toHaveLength(1);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('exported with the Temporal CLI, the histories of every intent the app ran hold no userName, e-mail address, name, title or group name', async () => {
    // When everything the cluster holds about the app's runs is exported
    const { workflowIds, exports, text } = await exportApp();

    // Then the runs of every intent are there,
    const intentOf = (workflowId: string) => workflowId.split(':')[0];
    expect([...new Set(workflowIds.map(intentOf))].sort()).toEqual(intents);
    expect(workflowIds).toEqual(expect.arrayContaining([intentWorkflowId, ...Object.values(runs).flat()]));
    // and no personal data in any of it (base64 decoded too); each value holds the marker, which none may show
    for (const secret of [...Object.values(person), ...Object.values(later)]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain(marker);
    // Every payload is encrypted (inputs, results, signals, summaries, failure details) but the search
    // attributes', which no codec sees (ids, the resource type, the intent, the worker's build id), and what the
    // SDK writes itself in its markers: a workflow code version's name (`patched()`), and a local activity's
    // bookkeeping (sequence, attempt, activity type, times; its result is encrypted like any other).
    const payloads = payloadsIn(exports);
    const clear = payloads.filter((payload) => metadataText(payload, 'encoding') !== 'binary/encrypted');
    expect(payloads.length - clear.length).toBeGreaterThan(10);
    const sdkMarkerKeys = [
      'id,deprecated',
      'seq,attempt,activity_id,activity_type,complete_time,backoff,original_schedule_time',
    ];
    const isSdkMarker = (payload: JsonPayload) =>
      sdkMarkerKeys.includes(
        Object.keys(JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString())).join(),
      );
    for (const payload of clear.filter((payload) => !isSdkMarker(payload))) {
      expect(metadataText(payload, 'type')).toMatch(/^Keyword(List)?$/);
    }
    // and the failure the first attempt met stands only as "Encoded failure"
    expect(text).toContain('Encoded failure');
  });

  it('the same export through the codec server reads in clear (the check above would have seen them)', async () => {
    const exported = await exportApp([
      '--codec-endpoint',
      `${h.apiUrl}/codec`,
      '--codec-auth',
      `Bearer ${API_TOKEN}`,
    ]);
    const { text } = exported;
    expect(text).toContain(person.userName);
    expect(text).toContain(`cannot create ${person.userName}`);
    // and so do the runs of every intent but the role sync, which carries ids and counts only
    const showingTheMarker = intents.filter((intent) => exported.textOfIntent(intent).includes(marker));
    expect(showingTheMarker).toEqual(intents.filter((intent) => intent !== 'syncRoleEntitlements'));
  });

  it('the codec server decodes a history’s payload for the API token or the UI’s codec token, and for nothing else', async () => {
    // Given the intent's summary as Temporal stores it
    const history = (await temporalCli(['workflow', 'show', '--workflow-id', intentWorkflowId])) as {
      events: { userMetadata?: { summary?: JsonPayload } }[];
    };
    const summary = history.events.find((event) => event.userMetadata?.summary)?.userMetadata?.summary;
    expect(summary && metadataText(summary, 'encoding')).toBe('binary/encrypted');
    const body = { payloads: [summary] };

    // When it is sent to the codec server with the API token, then it comes back in clear
    const decoded = await axios.post<{ payloads: JsonPayload[] }>(`${h.apiUrl}/codec/decode`, body, {
      headers: { authorization: `Bearer ${API_TOKEN}`, 'x-namespace': 'default' },
    });
    expect(decoded.status).toBe(200);
    expect(metadataText(decoded.data.payloads[0], 'encoding')).toBe('json/plain');
    expect(JSON.parse(Buffer.from(decoded.data.payloads[0].data!, 'base64').toString())).toContain(
      person.userName,
    );

    // and with the UI's endpoint (the codec token in its path) too
    const ui = codecEndpoint(h.apiUrl, API_TOKEN);
    const viaUi = await axios.post<{ payloads: JsonPayload[] }>(`${ui}/decode`, body);
    expect(viaUi.data).toEqual(decoded.data);

    // but not without a token, with a wrong one, or for another namespace
    const refused = async (url: string, headers: Record<string, string> = {}) =>
      (await axios.post(url, body, { headers, validateStatus: () => true })).status;
    expect(await refused(`${h.apiUrl}/codec/decode`)).toBe(401);
    expect(
      await refused(`${h.apiUrl}/codec/decode`, { authorization: 'Bearer wrong-token-0123456789' }),
    ).toBe(401);
    expect(await refused(`${h.apiUrl}/codec/not-the-codec-token/decode`)).toBe(401);
    expect(await refused(`${ui}/decode`, { 'x-namespace': 'someone-else' })).toBe(403);
    // nor does the codec token open the rest of the API
    const token = ui.split('/').pop()!;
    expect((await h.call('GET', '/api/apps', undefined, token)).status).toBe(401);
  });

  it('encode then decode gives the payload back', async () => {
    const clear = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from(JSON.stringify(person.userName)).toString('base64'),
    };
    const auth = { headers: { authorization: `Bearer ${API_TOKEN}` } };
    const encoded = await axios.post<{ payloads: JsonPayload[] }>(
      `${h.apiUrl}/codec/encode`,
      { payloads: [clear] },
      auth,
    );
    expect(metadataText(encoded.data.payloads[0], 'encoding')).toBe('binary/encrypted');
    expect(readableText(encoded.data)).not.toContain(person.userName);
    const decoded = await axios.post(`${h.apiUrl}/codec/decode`, encoded.data, auth);
    expect(decoded.data).toEqual({ payloads: [clear] });
  });

  it('CORS: a preflight from the Temporal UI’s origin is answered, one from another origin refused', async () => {
    const preflight = (origin: string) =>
      axios.options(`${h.apiUrl}/codec/decode`, {
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
        validateStatus: () => true,
      });
    // The harness's UI is the default, http://localhost:8233; on loopback the other names of it count too
    for (const origin of ['http://localhost:8233', 'http://127.0.0.1:8233']) {
      const allowed = await preflight(origin);
      expect(allowed.status).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe(origin);
      expect(allowed.headers['access-control-allow-headers']).toContain('x-namespace');
    }
    for (const origin of ['https://evil.example', 'http://localhost:8234']) {
      const refused = await preflight(origin);
      expect(refused.status).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    }
    // and a request from another origin is refused even with the token
    const crossSite = await axios.post(
      `${h.apiUrl}/codec/decode`,
      { payloads: [] },
      {
        headers: { origin: 'https://evil.example', authorization: `Bearer ${API_TOKEN}` },
        validateStatus: () => true,
      },
    );
    expect(crossSite.status).toBe(403);
  });

  it('an encrypted history replays with the workers’ data converter', async () => {
    const history = await h.temporal.workflow.getHandle(intentWorkflowId).fetchHistory();
    await Worker.runReplayHistory(
      {
        workflowBundle: { codePath: process.env.SCIMFLOW_TEST_WORKFLOW_BUNDLE! },
        dataConverter: temporalDataConverter(h.keyring),
      },
      history,
      intentWorkflowId,
    );
  });
});
