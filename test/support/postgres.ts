import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../src/temporal/devServer';

/**
 * A throwaway PostgreSQL cluster for a test run: Debian's `postgresql` binaries, a data directory in a temporary
 * directory, listening on a free loopback port only, durability off (nothing here must survive a crash of the
 * machine). `initdb` refuses to run as root, so under root the cluster belongs to the `postgres` user.
 */
export interface ThrowawayPostgres {
  /** An administrator's URL (the `postgres` database), for creating each suite's database. */
  url: string;
  stop(): Promise<void>;
}

const log = (message: string) => process.stderr.write(`[postgres] ${message}\n`);

/** The newest Debian PostgreSQL's binaries (`/usr/lib/postgresql/<major>/bin`), or whatever is on the PATH. */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(path.join(root, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length) return path.join(root, majors[0] as string, 'bin');
  try {
    return path.dirname(execFileSync('which', ['initdb'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(
      "PostgreSQL's server binaries (initdb, pg_ctl) were not found: the PostgreSQL store's tests need them. " +
        'Install Debian\'s "postgresql" package (apt-get install postgresql), or set SCIMFLOW_TEST_DATABASE_URL ' +
        'to a server where the tests may create databases.',
    );
  }
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, command), ...args], { stdio: 'pipe' })
      : execFileSync(path.join(bin, command), args, { stdio: 'pipe' });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'scimflow-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    await fs.chown(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const port = await freePort();
  const startedAt = Date.now();
  run('initdb', ['-D', data, '-U', 'scimflow', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const settings = [
    `-p ${port}`,
    "-c listen_addresses='127.0.0.1'",
    `-k ${dir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=400',
  ].join(' ');
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', settings, '-w', '-t', '60', 'start']);
  log(`throwaway cluster on 127.0.0.1:${port} ready after ${Date.now() - startedAt} ms`);
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // Also when jest ends without its teardown (interrupted): no cluster outlives the run.
  process.once('exit', stopNow);
  return {
    url: `postgres://scimflow@127.0.0.1:${port}/postgres`,
    async stop() {
      stopNow();
    },
  };
}

/** A new, empty database on the test cluster (`SCIMFLOW_TEST_DATABASE_URL`), and its URL. */
export async function freshDatabaseUrl(): Promise<string> {
  const admin = process.env.SCIMFLOW_TEST_DATABASE_URL;
  if (!admin) throw new Error('no test PostgreSQL: the jest globalSetup sets SCIMFLOW_TEST_DATABASE_URL');
  return createDatabase(admin, 'scimflow_test');
}

/** Creates an empty database named `<prefix>_<random>` on the server of `admin` (a URL that may); answers its URL. */
export async function createDatabase(admin: string, prefix: string): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
