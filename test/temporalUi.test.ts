import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { codecEndpoint } from '../src/api/routes/codec';
import { type DevServer, findTemporalCli, freePort, startDevServer } from '../src/temporal/devServer';
import { API_TOKEN, Harness } from './support/harness';

/** The page's `document`, typed here without the DOM library (used inside functions that run in the page). */
type InPage = { document: { body: { innerText: string } } };

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH names another. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const UI_WAIT_MS = 45_000;

/**
 * An operator reads the encrypted histories in the Temporal UI: a dev server whose UI is wired to the API's codec
 * server as `npm start` wires it (`--ui-codec-endpoint`), and a headless browser on an intent's page. The shared
 * test server has no UI, so this suite starts its own.
 */
describe('the Temporal UI shows encrypted payloads decoded by the codec server', () => {
  let tmpDir: string;
  let devServer: DevServer | undefined;
  let h: Harness | undefined;
  let browser: Browser | undefined;
  const userName = `ulla.${Date.now().toString(36)}@ui.example`;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    }
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scimflow-ui-'));
    const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const uiUrl = `http://127.0.0.1:${uiPort}`;
    devServer = await startDevServer({
      cliPath: await findTemporalCli({
        projectRoot: path.resolve(__dirname, '..'),
        explicitPath: process.env.TEMPORAL_CLI_PATH,
      }),
      dbFile: path.join(tmpDir, 'temporal.db'),
      port,
      uiPort,
      namespace: 'default',
      uiCodecEndpoint: codecEndpoint(`http://127.0.0.1:${apiPort}`, API_TOKEN),
    });
    h = await Harness.start({ temporal: { address: devServer.address, uiUrl }, apiPort });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root (CI) Chromium refuses to start with its sandbox.
      args: ['--no-sandbox'],
      timeout: 30_000,
    });
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await devServer?.stop();
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  });

  it('given a provisioned user, the intent’s page shows the userName that Temporal holds encrypted', async () => {
    // Given a user provisioned into an app (everything Temporal holds of it is encrypted)
    const { group } = await h!.appWithAssignedGroup();
    const user = await h!.createUser(userName);
    const joined = await h!.change('PUT', `/api/groups/${group.id}/members/${user.id}`);
    expect(joined.settled).toEqual([
      expect.objectContaining({ intent: 'provisionUser', status: 'completed' }),
    ]);
    const { uiUrl } = await h!.ok<{ uiUrl: string }>(
      'GET',
      `/api/operations/${joined.settled[0].workflowId}`,
    );

    // When an operator opens the intent's page in the Temporal UI
    const page = await browser!.newPage();
    const codecCalls: number[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/codec/')) codecCalls.push(response.status());
    });
    expect(uiUrl.startsWith(devServer!.uiUrl!)).toBe(true);
    await page.goto(uiUrl, { timeout: UI_WAIT_MS });

    // Then the UI asked the codec server, and the page shows the userName in clear
    await page
      // A function, not a string: the UI's content security policy allows no evaluation of strings.
      .waitForFunction(
        (name) => (globalThis as unknown as InPage).document.body.innerText.includes(name),
        userName,
        { timeout: UI_WAIT_MS },
      )
      .catch(async (error: Error) => {
        throw new Error(
          `${error.message}\ncodec answers: ${codecCalls.join(', ') || 'none'}\npage text:\n` +
            (await page.locator('body').innerText()).slice(0, 3000),
        );
      });
    expect(codecCalls.length).toBeGreaterThan(0);
    expect(codecCalls.every((status) => status === 200 || status === 204)).toBe(true);
  });
});
