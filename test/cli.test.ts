import { spawn } from 'node:child_process';
import path from 'node:path';
import type { ReconciliationReport } from '../src/directory/model';
import { API_TOKEN, Harness } from './support/harness';

const root = path.resolve(__dirname, '..');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as a user runs it: a child process (`node --import tsx src/cli/main.ts`, what `npm run cli` and the
 * bin run) talking to the harness's API over HTTP. Spawned, not spawnSync: the API answers in this process.
 */
describe('the scimflow CLI', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  function cli(...args: string[]): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
        cwd: root,
        env: { ...process.env, SCIMFLOW_API_URL: h.apiUrl, SCIMFLOW_API_TOKEN: API_TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Runs with --json, expects exit 0 and one JSON document on stdout. */
  async function json<T>(...args: string[]): Promise<T> {
    const result = await cli('--json', ...args);
    if (result.code !== 0)
      throw new Error(`scimflow ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    expect(result.stderr).toBe('');
    return JSON.parse(result.stdout) as T;
  }

  it('connects an app, provisions a group through it, reconciles and reports', async () => {
    const appName = `CLI target ${Date.now()}`;
    const app = await json<{ id: string; name: string; profile: string; operations: unknown[] }>(
      'apps',
      'create',
      '--name',
      appName,
      '--base-url',
      h.proxy.url,
      '--bearer-token',
      h.scim.token,
    );
    expect(app).toMatchObject({ name: appName, profile: 'generic', operations: [] });

    // Human output: an aligned table naming the app.
    const listed = await cli('apps', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+PROFILE\s+GROUPS\s+BASE URL/);
    expect(listed.stdout).toContain(appName);

    const alice = await json<{ id: string; userName: string }>(
      'users',
      'create',
      'alice.cli@example.com',
      '--given-name',
      'Alice',
      '--family-name',
      'Liddell',
      '--email',
      'alice.cli@example.com',
    );
    expect(alice.userName).toBe('alice.cli@example.com');
    const bob = await cli('users', 'create', 'bob.cli@example.com', '--email', 'bob.cli@example.com');
    expect(bob.code).toBe(0);
    expect(bob.stdout).toContain('created user bob.cli@example.com');

    // Members and the group are named by userName and displayName as well as by id.
    const group = await json<{ id: string; memberIds: string[] }>(
      'groups',
      'create',
      'CLI Engineering',
      '--member',
      alice.id,
      '--member',
      'bob.cli@example.com',
    );
    expect(group.memberIds).toHaveLength(2);

    const assigned = await json<{ assigned: boolean; operations: { intent: string }[] }>(
      'assign',
      appName,
      'CLI Engineering',
    );
    expect(assigned).toMatchObject({ assigned: true, operations: [{ intent: 'createGroup' }] });

    // Wait for the operations as a script would: list them until every one has closed.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { items } = await json<{ items: { intent: string; status: string }[] }>(
        'operations',
        'list',
        '--app',
        app.id,
      );
      if (items.length && items.every((o) => o.status === 'completed')) {
        expect(items.map((o) => o.intent)).toContain('createGroup');
        break;
      }
      expect(
        items.filter((o) => ['failed', 'canceled', 'terminated', 'timed-out'].includes(o.status)),
      ).toEqual([]);
      if (Date.now() > deadline) throw new Error(`operations did not complete: ${JSON.stringify(items)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(h.remoteUser('alice.cli@example.com')).toBeDefined();
    expect(h.remoteGroup('CLI Engineering')?.members).toHaveLength(2);

    // Drift: a user scimflow does not know, and bob gone from the app.
    h.scim.seedUser({ userName: 'stranger.cli@example.com', active: true });
    h.scim.deleteUserDirectly(h.remoteUser('bob.cli@example.com')!.id);

    const dry = await json<ReconciliationReport>(
      'reconcile',
      app.id,
      '--dry-run',
      '--wait',
      '--interval',
      '200',
    );
    expect(dry).toMatchObject({ status: 'completed', dryRun: true });
    expect(dry.counts).toMatchObject({ created: 1, unmanaged: 1, updated: 0, deprovisioned: 0, errors: 0 });
    expect(dry.counts.unchanged).toBeGreaterThanOrEqual(1);
    expect(dry.objects.unmanaged?.map((o) => o.name)).toEqual(['stranger.cli@example.com']);
    // A dry run writes nothing.
    expect(h.remoteUser('bob.cli@example.com')).toBeUndefined();

    const real = await cli('reconcile', appName, '--wait', '--interval', '200');
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/status\s+completed/);
    expect(real.stdout).toMatch(/^CATEGORY\s+COUNT$/m);
    expect(real.stdout).toMatch(/^created\s+1$/m);
    expect(real.stdout).toMatch(/^unmanaged\s+1$/m);
    expect(real.stdout).toMatch(/^CATEGORY\s+TYPE\s+NAME\s+REMOTE ID\s+DETAIL$/m);
    expect(real.stdout).toMatch(/^unmanaged\s+User\s+stranger\.cli@example\.com\s/m);
    expect(real.stdout).toMatch(/^created\s+User\s+bob\.cli@example\.com\s/m);
    // No progress bar where stderr is not a terminal.
    expect(real.stderr).toBe('');
    expect(h.remoteUser('bob.cli@example.com')).toBeDefined();

    // The operations list as a table.
    const operations = await cli('operations', 'list', '--app', appName, '--intent', 'createGroup');
    expect(operations.code).toBe(0);
    expect(operations.stdout).toMatch(/^STARTED\s+STATUS\s+INTENT\s+RESOURCE\s+WORKFLOW ID\s+DETAIL$/m);
    expect(operations.stdout).toMatch(/completed\s+createGroup\s+Group /);

    // follow --until-idle ends by itself once nothing runs.
    const followed = await cli(
      '--json',
      'operations',
      'follow',
      '--app',
      app.id,
      '--until-idle',
      '--interval',
      '200',
    );
    expect(followed.code).toBe(0);
    const lines = followed.stdout.trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { intent: string }).intent)).toContain('createGroup');

    // Import: a second app on the same target adopts its three users (the stranger is created).
    const second = await json<{ id: string }>(
      'apps',
      'create',
      '--name',
      `${appName} (import)`,
      '--base-url',
      h.proxy.url,
      '--bearer-token',
      h.scim.token,
    );
    const imported = await json<{ status: string; result: { counts: { created: number; linked: number } } }>(
      'import',
      second.id,
      '--wait',
      '--interval',
      '200',
    );
    expect(imported.status).toBe('completed');
    expect(imported.result.counts).toMatchObject({ created: 1, linked: 2 });
    const again = await cli('import', second.id, '--wait', '--interval', '200');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/status\s+completed/);
    expect(again.stdout).toContain('already linked: 3 user(s)');
  });

  it('answers the API error with exit code 1, and a usage error with 2', async () => {
    const unknown = await cli('apps', 'show', 'no-such-app');
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('app no-such-app not found');
    expect(unknown.stderr).toContain('404 not-found');

    const reconcileUnknown = await cli('reconcile', 'no-such-app', '--dry-run', '--wait');
    expect(reconcileUnknown.code).toBe(1);
    expect(reconcileUnknown.stderr).toContain('app no-such-app not found');

    // --json: the API's error document on stdout, the message on stderr.
    const asJson = await cli('--json', 'users', 'show', 'nobody-cli');
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toEqual({ error: 'not-found', message: 'user nobody-cli not found' });

    const invalid = await cli('users', 'create', 'carol.cli@example.com', '--email', 'not-an-email');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('invalid body');
    expect(invalid.stderr).toContain('emails.0.value');

    const wrongToken = await cli('--token', 'wrong-token-0123456789', 'apps', 'list');
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toContain('401 unauthorized');

    const usage = await cli('apps', 'create', '--name', 'No URL');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('apps create needs baseUrl, auth');
    const unknownOption = await cli('users', 'list', '--bogus');
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("unknown option '--bogus'");
  });

  it('prints one JSON document with --json, and help with exit code 0', async () => {
    const users = await json<{ items: unknown[]; total: number; offset: number; limit: number }>(
      'users',
      'list',
      '--limit',
      '5',
    );
    expect(users).toMatchObject({ offset: 0, limit: 5 });
    expect(Array.isArray(users.items)).toBe(true);
    const groups = await json<{ items: unknown[] }>('groups', 'list');
    expect(Array.isArray(groups.items)).toBe(true);

    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: scimflow');
    expect(help.stdout).toContain('reconcile');
  });
});
