/**
 * What the benches provision and how the report names the code and machine: bench users, the deterministic
 * group plan (each user in k overlapping groups), the direct-call baseline against any SCIM target, and the
 * small helpers around a bench's main. Nothing here starts a process.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import axios from 'axios';
import type { UserAttributes } from '../src/directory/model';
import { desiredScimGroup, desiredScimUser } from '../src/provisioning/mapping';
import { membershipPatchBatches } from '../src/scim/diff';
import { SCIM_SCHEMAS } from '../src/scim/schemas';
import { type Deadline, DeadlineExceeded, forEachLimit, log } from './support';

/** Members per PATCH, in the apps the benches create and in the direct-call baseline. */
export const BATCH_SIZE = 100;

// ── bench users and groups ───────────────────────────────────────────────────────────────────────

export function userNames(tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}-${String(i).padStart(6, '0')}@bench.example.com`);
}

export function directoryUserInput(userName: string): UserAttributes {
  return {
    userName,
    name: { givenName: userName.split('@')[0], familyName: 'Bench' },
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
  };
}

/** The same SCIM bodies scimflow would send for the run's users; build them before the clock starts. */
export function scimUserPayloads(tag: string, n: number) {
  const timestamp = new Date().toISOString();
  return userNames(tag, n).map((userName) =>
    desiredScimUser({
      id: randomUUID(),
      createdAt: timestamp,
      updatedAt: timestamp,
      ...directoryUserInput(userName),
    }),
  );
}

/**
 * Which users (indexes) each of `groups` groups holds when each of `users` users is in `perUser` of them:
 * user i is in groups (i + j·⌊G/k⌋) mod G for j < k — distinct groups, overlapping like a real directory's, and
 * groups of equal size (N·k/G) when G divides N.
 */
export function membershipPlan(users: number, groups: number, perUser: number): number[][] {
  const k = Math.min(perUser, groups);
  const step = Math.max(1, Math.floor(groups / k));
  const members: number[][] = Array.from({ length: groups }, () => []);
  for (let i = 0; i < users; i++) for (let j = 0; j < k; j++) members[(i + j * step) % groups].push(i);
  return members;
}

// ── the direct-call baseline ─────────────────────────────────────────────────────────────────────

export interface DirectResult {
  usersMs: number;
  groupsMs: number;
  patchesMs: number;
  calls: number;
}

/** How the baseline sends its calls: axios (what scimflow's ScimClient uses) or bare node:http. */
export type DirectClient = 'axios' | 'http';

type Send = (
  method: 'POST' | 'PATCH',
  path: string,
  body: unknown,
) => Promise<{ status: number; data: unknown }>;

function directSender(target: { url: string; token: string }, client: DirectClient, agent: http.Agent): Send {
  const headers = {
    Authorization: `Bearer ${target.token}`,
    Accept: 'application/scim+json, application/json',
    'Content-Type': 'application/scim+json',
  };
  if (client === 'axios') {
    const instance = axios.create({
      baseURL: target.url,
      headers,
      httpAgent: agent,
      timeout: 30_000,
      validateStatus: () => true,
    });
    return async (method, path, body) => instance.request({ method, url: path, data: body });
  }
  const base = new URL(target.url);
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const request = http.request(
        {
          host: base.hostname,
          port: base.port,
          path: `${base.pathname}${path}`,
          method,
          agent,
          timeout: 30_000,
          headers: { ...headers, 'Content-Length': Buffer.byteLength(text) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            resolve({ status: response.statusCode ?? 0, data: raw ? JSON.parse(raw) : undefined });
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
      request.on('error', reject);
      request.end(text);
    });
}

/**
 * Plain SCIM calls, no engine, `concurrency` in flight: POST /Users for every payload, then POST /Groups for
 * every group, then PATCH add members in batches of BATCH_SIZE (the same operations scimflow sends).
 */
export async function writeDirectly(
  target: { url: string; token: string },
  payloads: ReturnType<typeof scimUserPayloads>,
  groups: { displayName: string; members: number[] }[],
  options: { concurrency: number; client: DirectClient },
  deadline: Deadline,
): Promise<DirectResult> {
  const { concurrency } = options;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const send = directSender(target, options.client, agent);
  const expect2xx = (what: string, response: { status: number; data: unknown }) => {
    if (response.status >= 300)
      throw new Error(`${what} answered ${response.status}: ${JSON.stringify(response.data).slice(0, 300)}`);
  };
  let calls = 0;
  try {
    const t0 = performance.now();
    const userIds: string[] = new Array(payloads.length);
    await forEachLimit(
      payloads,
      concurrency,
      async (payload, i) => {
        calls++;
        const response = await send('POST', '/Users', payload);
        expect2xx(`POST /Users ${payload.userName}`, response);
        userIds[i] = (response.data as { id: string }).id;
      },
      deadline,
    );
    const t1 = performance.now();
    const groupIds: string[] = new Array(groups.length);
    await forEachLimit(
      groups,
      concurrency,
      async (group, i) => {
        calls++;
        const response = await send(
          'POST',
          '/Groups',
          desiredScimGroup({ id: randomUUID(), displayName: group.displayName }),
        );
        expect2xx(`POST /Groups ${group.displayName}`, response);
        groupIds[i] = (response.data as { id: string }).id;
      },
      deadline,
    );
    const t2 = performance.now();
    const patches = groups.flatMap((group, i) =>
      membershipPatchBatches(
        group.members.map((u) => userIds[u]),
        [],
        BATCH_SIZE,
      ).map((operations) => ({ groupId: groupIds[i], operations })),
    );
    await forEachLimit(
      patches,
      concurrency,
      async ({ groupId, operations }) => {
        calls++;
        const response = await send('PATCH', `/Groups/${groupId}`, {
          schemas: [SCIM_SCHEMAS.patchOp],
          Operations: operations,
        });
        expect2xx('PATCH /Groups', response);
      },
      deadline,
    );
    const t3 = performance.now();
    return { usersMs: t1 - t0, groupsMs: t2 - t1, patchesMs: t3 - t2, calls };
  } finally {
    agent.destroy();
  }
}

// ── around a bench's main ────────────────────────────────────────────────────────────────────────

/** Which code was measured: the tree changes between runs, so the report names the commit (best effort). */
export function codeVersion(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: path.resolve(__dirname, '..'),
        encoding: 'utf8',
        stdio: 'pipe',
      }).trim();
    const dirty = git('status', '--porcelain', '--', 'src').length > 0;
    return `commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'commit unknown';
  }
}

/** The report header's second line: this machine, Node and the code measured. */
export function describeMachine(): string {
  return (
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ` +
    `Node ${process.version}, ${os.platform()} ${os.release()}; scimflow ${codeVersion()}`
  );
}

/** For a bench's catch-all: a spent budget is a stop, anything else a failure. */
export function logFailure(error: unknown): void {
  if (error instanceof DeadlineExceeded) log(`STOPPED: ${error.message}`);
  else log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
}

/** Exits with main's code once it is done, so open handles left behind cannot keep the process alive. */
export function exitWhenDone(main: Promise<number>): void {
  main
    .then((code) => process.exit(code))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
