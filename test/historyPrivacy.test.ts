import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import axios from 'axios';
import { Worker } from '@temporalio/worker';
import { codecEndpoint } from '../src/api/routes/codec';
import { findTemporalCli } from '../src/temporal/devServer';
import { temporalDataConverter } from '../src/temporal/payloadCodec';
import { API_TOKEN, Harness } from './support/harness';

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
  const marker = randomUUID().slice(0, 8);
  const person = {
    userName: `zelda.${marker}@privacy.example`,
    email: `z.quixley.${marker}@mail.privacy.example`,
    givenName: `Zeldarine${marker}`,
    familyName: `Quixley${marker}`,
  };
  let appId: string;
  let intentWorkflowId: string;

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
    ])) as { execution: { workflowId: string } }[];
    const workflowIds = [...new Set(listed.map((run) => run.execution.workflowId))];
    const exports = await Promise.all(
      workflowIds.flatMap((workflowId) => [
        temporalCli(['workflow', 'show', '--workflow-id', workflowId, ...codecArgs]),
        temporalCli(['workflow', 'describe', '--workflow-id', workflowId, ...codecArgs]),
      ]),
    );
    return { workflowIds, exports, text: readableText([listed, exports]) };
  };

  beforeAll(async () => {
    h = await Harness.start();
    cli = await findTemporalCli({
      projectRoot: path.resolve(__dirname, '..'),
      explicitPath: process.env.TEMPORAL_CLI_PATH,
    });

    // Given a user provisioned through the API, whose first create was refused with an answer quoting them
    const { app, group } = await h.appWithAssignedGroup();
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
  });

  afterAll(async () => {
    await h?.close();
  });

  it('exported with the Temporal CLI, the app’s histories hold no userName, e-mail address or name', async () => {
    // When everything the cluster holds about the app's runs is exported
    const { workflowIds, exports, text } = await exportApp();

    // Then the group's and the user's intents are there, and no personal data in any of it (base64 decoded too)
    expect(workflowIds).toEqual(
      expect.arrayContaining([intentWorkflowId, expect.stringMatching(/^createGroup:/)]),
    );
    for (const secret of Object.values(person)) expect(text).not.toContain(secret);
    expect(text).not.toContain(`zelda.${marker}`);
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
    const { text } = await exportApp([
      '--codec-endpoint',
      `${h.apiUrl}/codec`,
      '--codec-auth',
      `Bearer ${API_TOKEN}`,
    ]);
    expect(text).toContain(person.userName);
    expect(text).toContain(`cannot create ${person.userName}`);
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
