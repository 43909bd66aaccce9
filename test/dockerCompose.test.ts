import fs from 'node:fs';
import path from 'node:path';
import { SearchAttributeType } from '@temporalio/common';
import { parse } from 'yaml';
import { loadConfig } from '../src/config';
import { customSearchAttributes } from '../src/shared/searchAttributes';

/**
 * Static checks of the container setup (docker-compose.yml, Dockerfile) against the code it runs: there is no
 * Docker engine in CI, so these catch drift between the two instead of a failing `docker compose up`.
 */

const root = path.resolve(__dirname, '..');
const read = (relativePath: string): string => fs.readFileSync(path.join(root, relativePath), 'utf8');

type EnvironmentValue = string | number | boolean | null;
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, EnvironmentValue> | string[];
  ports?: Array<string | number | { target: number | string; published?: number | string }>;
  volumes?: Array<string | { type?: string; source?: string; target: string }>;
  depends_on?: string[] | Record<string, { condition?: string } | null>;
  healthcheck?: { test?: string | string[] };
  deploy?: { replicas?: number };
}
interface ComposeFile {
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

// `merge`: the file shares settings through YAML anchors and `<<` merge keys, which Compose resolves (YAML 1.1's
// merge keys are not part of YAML 1.2's core schema, so the parser has to be told).
const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
const services = compose.services ?? {};

function service(name: string): ComposeService {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

function environment(svc: ComposeService): Record<string, string | undefined> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf('=');
        return eq === -1 ? [entry, undefined] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, value === null ? undefined : String(value)]),
  );
}

function ports(svc: ComposeService): Array<{ published?: string; target: string }> {
  return (svc.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return {
        published: port.published === undefined ? undefined : String(port.published),
        target: String(port.target),
      };
    }
    // Short syntax: [[ip:]published:]target[/protocol]
    const parts = String(port)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const target = parts[parts.length - 1];
    return { published: parts.length > 1 ? parts[parts.length - 2] : undefined, target };
  });
}

function dependencies(svc: ComposeService): Record<string, string | undefined> {
  const dependsOn = svc.depends_on ?? {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, 'service_started']));
  return Object.fromEntries(
    Object.entries(dependsOn).map(([name, options]) => [name, options?.condition ?? 'service_started']),
  );
}

function mounts(svc: ComposeService): Array<{ source?: string; target: string }> {
  return (svc.volumes ?? []).map((volume) => {
    if (typeof volume === 'object') return { source: volume.source, target: volume.target };
    const [source, target] = volume.split(':');
    return target === undefined ? { target: source } : { source, target };
  });
}

const asList = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** How many containers `docker compose up` starts for a service (`deploy.replicas`, 1 by default). */
const replicas = (svc: ComposeService): number => svc.deploy?.replicas ?? 1;

/** Values for the variables the file requires from the operator's environment (`${NAME:?message}`). */
const operatorEnvironment: Record<string, string> = {
  SCIMFLOW_API_TOKEN: 'a'.repeat(64),
  SCIMFLOW_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
};

/** Compose's interpolation of `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`. */
function interpolate(value: string, variables: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (_match, name: string, colon: string, kind: string | undefined, argument: string) => {
      const set = variables[name];
      const missing = set === undefined || (colon === ':' && set === '');
      if (!missing) return set;
      if (kind === '?') throw new Error(`\${${name}} is required: ${argument}`);
      return kind === '-' ? argument : '';
    },
  );
}

/** What src/config.ts makes of a service's environment, with the operator's variables filled in. */
function configOf(svc: ComposeService) {
  const env = Object.fromEntries(
    Object.entries(environment(svc)).map(([key, value]) => [
      key,
      value === undefined ? undefined : interpolate(value, operatorEnvironment),
    ]),
  );
  return loadConfig(env);
}

/** The SCREAMING_CASE keys of `environmentSchema` in src/config.ts (it is not exported, so read as text). */
function configEnvironmentKeys(): Set<string> {
  const source = read('src/config.ts');
  const schema = /const environmentSchema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(source);
  if (!schema) throw new Error('src/config.ts: `const environmentSchema = z.object({ ... });` not found');
  return new Set([...schema[1].matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:/gm)].map((match) => match[1]));
}

interface DockerInstruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions grouped by stage (comments dropped, `\` continuations joined). */
function dockerStages(): DockerInstruction[][] {
  const lines = read('Dockerfile')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: DockerInstruction[][] = [];
  for (const line of lines) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === 'FROM') stages.push([]);
    if (stages.length === 0) continue; // ARG before the first FROM
    stages[stages.length - 1].push(instruction);
  }
  return stages;
}

/** Names set by ENV, in both `ENV A=1 B=2` and legacy `ENV A 1` form. */
function envNames(args: string): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) return [args.split(/\s+/)[0]];
  return [...args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map((match) => match[1]);
}

const stages = dockerStages();
const finalStage = stages[stages.length - 1] ?? [];
const instructionsOf = (stage: DockerInstruction[], keyword: string): string[] =>
  stage.filter((instruction) => instruction.keyword === keyword).map((instruction) => instruction.args);

function dockerCmd(): string[] {
  const cmds = instructionsOf(finalStage, 'CMD');
  if (cmds.length === 0) throw new Error('the final Dockerfile stage has no CMD');
  // Exec form (a JSON array) so node is the process that receives signals, not a shell.
  return JSON.parse(cmds[cmds.length - 1]) as string[];
}

/** Where `npm run build` (tsc -p tsconfig.build.json) takes a dist/…/x.js file from: src/…/x.ts. */
function sourceOf(distFile: string): string {
  const compilerOptions = (
    JSON.parse(read('tsconfig.build.json')) as { compilerOptions: Record<string, string> }
  ).compilerOptions;
  const relative = path.posix.relative(compilerOptions.outDir, path.posix.normalize(distFile));
  if (relative.startsWith('..')) throw new Error(`${distFile} is not under outDir ${compilerOptions.outDir}`);
  return path.posix.join(compilerOptions.rootDir, relative.replace(/\.js$/, '.ts'));
}

const workerServices = ['scimflow-worker'];
const apiServices = ['scimflow-api', 'scimflow-api-2'];
const scimflowServices = [...workerServices, ...apiServices];

/** The services whose command runs `script` (dist/worker.js, dist/api/main.js). */
const servicesRunning = (script: string): string[] =>
  Object.entries(services)
    .filter(([, svc]) => asList(svc.command).includes(script))
    .map(([name]) => name);

/** The init scripts the postgresql service runs on its first start: [container path, repository path]. */
function postgresInitScripts(): Array<{ target: string; source: string }> {
  return mounts(service('postgresql'))
    .filter((mount) => mount.target.startsWith('/docker-entrypoint-initdb.d/'))
    .map((mount) => ({ target: mount.target, source: mount.source ?? '' }));
}

describe('docker-compose.yml', () => {
  it('defines PostgreSQL, Temporal, its admin tools and UI, and the scimflow worker and API', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining([
        'postgresql',
        'temporal',
        'temporal-admin-tools',
        'temporal-ui',
        ...scimflowServices,
      ]),
    );
  });

  it('runs two worker and two API containers, all of them on the listed services', () => {
    expect(servicesRunning('dist/worker.js').sort()).toEqual([...workerServices].sort());
    expect(servicesRunning('dist/api/main.js').sort()).toEqual([...apiServices].sort());
    const containers = (names: string[]) => names.reduce((sum, name) => sum + replicas(service(name)), 0);
    expect(containers(workerServices)).toBe(2);
    expect(containers(apiServices)).toBe(2);
    // A replicated API would ask for the same host port twice: each API container is a service of its own.
    for (const name of apiServices)
      expect({ name, replicas: replicas(service(name)) }).toEqual({ name, replicas: 1 });
  });

  it('builds exactly the scimflow services from this repository', () => {
    const built = Object.entries(services)
      .filter(([, svc]) => svc.build !== undefined)
      .map(([name]) => name);
    expect(built.sort()).toEqual([...scimflowServices].sort());
  });

  it('pins every pulled image to an explicit version', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.image === undefined) continue;
      const tag = /:([^:/]+)$/.exec(svc.image)?.[1];
      expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/\d/) });
      expect({ name, tag }).not.toEqual({ name, tag: 'latest' });
    }
  });

  it('runs Temporal on the postgresql service, once it is healthy', () => {
    const postgresql = service('postgresql');
    const temporal = service('temporal');
    expect(postgresql.image).toMatch(/^postgres:\d/);
    expect(asList(postgresql.healthcheck?.test).join(' ')).toContain('pg_isready');

    expect(temporal.image).toMatch(/^temporalio\/auto-setup:1\.2\d\.\d+$/);
    expect(dependencies(temporal)).toMatchObject({ postgresql: 'service_healthy' });

    const temporalEnv = environment(temporal);
    const postgresEnv = environment(postgresql);
    expect(temporalEnv.DB).toBe('postgres12');
    expect(temporalEnv.DB_PORT).toBe('5432');
    expect(temporalEnv.POSTGRES_SEEDS).toBe('postgresql');
    expect(temporalEnv.POSTGRES_USER).toBe(postgresEnv.POSTGRES_USER);
    expect(temporalEnv.POSTGRES_PWD).toBe(postgresEnv.POSTGRES_PASSWORD);
  });

  it.each([
    ['temporal', '7233', '7233'],
    ['temporal-ui', '8080', '8080'],
    ['scimflow-api', '3000', '3000'],
    ['scimflow-api-2', '3001', '3000'],
  ])('publishes %s on host port %s', (name, published, target) => {
    expect(ports(service(name))).toContainEqual({ published, target });
  });

  it('publishes each API on its own host port, the port it listens on', () => {
    const published = apiServices.map((name) => {
      const mappings = ports(service(name));
      expect({ name, count: mappings.length }).toEqual({ name, count: 1 });
      expect(mappings[0].target).toBe(environment(service(name)).SCIMFLOW_API_PORT);
      return mappings[0].published;
    });
    expect(new Set(published).size).toBe(apiServices.length);
  });

  it('points the Temporal UI at the temporal service', () => {
    const ui = service('temporal-ui');
    expect(ui.image).toMatch(/^temporalio\/ui:\d/);
    expect(environment(ui).TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it.each([
    ['scimflow-worker', ['node', '--max-semi-space-size=8', 'dist/worker.js']],
    ['scimflow-api', ['node', 'dist/api/main.js']],
    ['scimflow-api-2', ['node', 'dist/api/main.js']],
  ])('runs %s as %j', (name, command) => {
    expect(service(name).command).toEqual(command);
  });

  it('creates the scimflow database on the postgresql service with a mounted init script from this repository', () => {
    const scripts = postgresInitScripts();
    expect(scripts).toHaveLength(1);
    const [{ source, target }] = scripts;
    // The image runs *.sql and *.sh files of /docker-entrypoint-initdb.d/ when it initializes an empty data volume.
    expect(target).toMatch(/^\/docker-entrypoint-initdb\.d\/[^/]+\.(sql|sh)$/);
    expect(source).toMatch(/^\.\//);
    expect(fs.existsSync(path.join(root, source))).toBe(true);

    const sql = read(source);
    expect(sql).toMatch(/CREATE DATABASE scimflow\b/);
    expect(sql).toMatch(/CREATE ROLE scimflow LOGIN PASSWORD ''scimflow''/);
    expect(sql).toMatch(/OWNER scimflow\b/);
    // Not one of Temporal's databases (auto-setup creates temporal and temporal_visibility).
    const temporalEnv = environment(service('temporal'));
    expect([
      'temporal',
      'temporal_visibility',
      temporalEnv.DBNAME,
      temporalEnv.VISIBILITY_DBNAME,
    ]).not.toContain('scimflow');
  });

  it.each(scimflowServices)(
    'keeps the directory of %s in the scimflow database on the postgresql service',
    (name) => {
      const config = configOf(service(name));
      expect(config.database.url).toBeDefined();
      const url = new URL(config.database.url as string);
      expect(url.protocol).toMatch(/^postgres(ql)?:$/);
      expect(url.hostname).toBe('postgresql');
      expect(service(url.hostname).image).toMatch(/^postgres:\d/);
      expect(url.port || '5432').toBe('5432');
      expect(url.pathname).toBe('/scimflow');
      // The role the init script creates, with its password.
      const sql = read(postgresInitScripts()[0]?.source ?? 'deploy/postgres/(no init script)');
      const role = new RegExp(`CREATE ROLE ${url.username} LOGIN PASSWORD ''${url.password}''`);
      expect({ name, role: url.username, created: role.test(sql) }).toEqual({
        name,
        role: url.username,
        created: true,
      });
    },
  );

  it.each(scimflowServices)('keeps nothing of %s on disk: no SQLite directory, no volume', (name) => {
    const svc = service(name);
    const env = environment(svc);
    expect({ name, mounts: mounts(svc) }).toEqual({ name, mounts: [] });
    expect({ name, dbFile: env.SCIMFLOW_DB_FILE, dataDir: env.SCIMFLOW_DATA_DIR }).toEqual({
      name,
      dbFile: undefined,
      dataDir: undefined,
    });
    // The key comes from the environment, not from a file in a data directory.
    expect({ name, keyFile: env.SCIMFLOW_ENCRYPTION_KEY_FILE }).toEqual({ name, keyFile: undefined });
  });

  it('gives every scimflow process the same key, Temporal namespace and task queue, and every API the same token', () => {
    const shared = (pick: (name: string) => unknown, names = scimflowServices) => new Set(names.map(pick));
    const raw = (key: string) => (name: string) => environment(service(name))[key];
    // The same source: one variable of the operator's environment, required.
    expect([...shared(raw('SCIMFLOW_ENCRYPTION_KEY'))]).toEqual([
      expect.stringMatching(/^\$\{SCIMFLOW_ENCRYPTION_KEY:\?[^}]*\}$/),
    ]);
    expect([...shared(raw('SCIMFLOW_API_TOKEN'), apiServices)]).toEqual([
      expect.stringMatching(/^\$\{SCIMFLOW_API_TOKEN:\?[^}]*\}$/),
    ]);
    expect(shared((name) => configOf(service(name)).taskQueue).size).toBe(1);
    expect(shared((name) => configOf(service(name)).temporal.namespace).size).toBe(1);
    expect(shared((name) => configOf(service(name)).database.url).size).toBe(1);
    expect(shared((name) => configOf(service(name)).temporal.uiUrl, apiServices).size).toBe(1);
  });

  it("keeps the scimflow processes' connections well within PostgreSQL's max_connections", () => {
    // postgres:16's default is 100, shared with Temporal's own connection pools: scimflow takes at most half.
    const maxConnections = Number(
      /max_connections=(\d+)/.exec(asList(service('postgresql').command).join(' '))?.[1] ?? 100,
    );
    const total = scimflowServices.reduce(
      (sum, name) => sum + replicas(service(name)) * configOf(service(name)).database.poolSize,
      0,
    );
    expect(total).toBeLessThanOrEqual(maxConnections / 2);
  });

  it.each(scimflowServices)('connects %s to the temporal service and namespace', (name) => {
    const env = environment(service(name));
    const [host, port] = (env.TEMPORAL_ADDRESS ?? '').split(':');
    expect(host).toBe('temporal');
    expect(ports(service(host)).map((mapping) => mapping.target)).toContain(port);
    expect(env.TEMPORAL_NAMESPACE).toBe('default');
  });

  it.each(scimflowServices)(
    'starts %s only once PostgreSQL is healthy and the search attributes are registered',
    (name) => {
      // The admin tools' job ends only once Temporal answers and the namespace exists.
      expect(dependencies(service(name))).toMatchObject({
        postgresql: 'service_healthy',
        'temporal-admin-tools': 'service_completed_successfully',
      });
    },
  );

  it.each(apiServices)(
    '%s requires SCIMFLOW_API_TOKEN from the environment and listens on all interfaces',
    (name) => {
      const env = environment(service(name));
      expect(env.SCIMFLOW_API_TOKEN).toMatch(/^\$\{SCIMFLOW_API_TOKEN:\?[^}]*\}$/);
      expect(env.SCIMFLOW_API_HOST).toBe('0.0.0.0');
      expect(env.SCIMFLOW_API_PORT).toBe('3000');
      expect(env.TEMPORAL_UI_URL).toBe('http://localhost:8080');
    },
  );

  it('accepts every scimflow service environment as valid configuration', () => {
    for (const name of scimflowServices) {
      expect(() => configOf(service(name))).not.toThrow();
    }
    // And the check can fail: a value src/config.ts refuses.
    expect(() =>
      configOf({ environment: { SCIMFLOW_DATABASE_URL: 'mysql://scimflow@postgresql/scimflow' } }),
    ).toThrow(/SCIMFLOW_DATABASE_URL/);
  });

  it('registers every custom search attribute as a Keyword on the default namespace', () => {
    const adminTools = service('temporal-admin-tools');
    expect(adminTools.image).toMatch(/^temporalio\/admin-tools:1\.2\d\./);
    expect(Object.keys(dependencies(adminTools))).toContain('temporal');
    const script = [...asList(adminTools.entrypoint), ...asList(adminTools.command)].join('\n');
    const address = environment(adminTools).TEMPORAL_ADDRESS ?? /--address[= ](\S+)/.exec(script)?.[1];
    expect(address).toBe('temporal:7233');

    expect(script).toContain('temporal operator search-attribute create');
    expect(script).toContain('--namespace default');
    expect(script).toContain('--type Keyword');
    // The script registers Keywords only, so the code must not declare any other type.
    for (const key of customSearchAttributes) {
      expect({ name: key.name, type: key.type }).toEqual({
        name: key.name,
        type: SearchAttributeType.KEYWORD,
      });
    }
    // Same set both ways: a renamed or misspelt attribute shows up as one missing plus one extra.
    const expected = customSearchAttributes.map((key) => key.name).sort();
    const registered = [...new Set(script.match(/\bScim[A-Za-z0-9]+\b/g) ?? [])].sort();
    expect(registered).toEqual(expected);
  });

  it('gives the scimflow services only environment variables that src/config.ts reads', () => {
    const known = configEnvironmentKeys();
    // Guard against the text parse silently finding nothing.
    expect([...known]).toEqual(expect.arrayContaining(['SCIMFLOW_DATA_DIR', 'TEMPORAL_ADDRESS']));
    for (const name of scimflowServices) {
      const unknown = Object.keys(environment(service(name))).filter((key) => !known.has(key));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
    }
  });
});

describe('Dockerfile', () => {
  it('uses node:20-bookworm-slim for every stage and runs as the node user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      expect(stage[0].args).toMatch(/^node:20-bookworm-slim(\s+AS\s+\S+)?$/i);
    }
    const users = instructionsOf(finalStage, 'USER');
    expect(users[users.length - 1]).toBe('node');
  });

  it('installs the native build toolchain, builds and prunes dev dependencies before the runtime stage', () => {
    const buildRuns = stages
      .slice(0, -1)
      .flatMap((stage) => instructionsOf(stage, 'RUN'))
      .join('\n');
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bpython3\b/);
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bmake\b/);
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bg\+\+/);
    expect(buildRuns).toContain('npm ci');
    expect(buildRuns).toContain('npm run build');
    expect(buildRuns).toContain('npm prune --omit=dev');
    expect(instructionsOf(finalStage, 'RUN').join('\n')).not.toMatch(/npm (ci|install)|apt-get install/);
  });

  it('builds dist/ from src/ with tsconfig.build.json', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.build).toContain('tsconfig.build.json');
    expect(sourceOf('dist/api/main.js')).toBe('src/api/main.ts');
  });

  it('sets SCIMFLOW_DATA_DIR to a declared volume and otherwise only variables src/config.ts reads', () => {
    const known = configEnvironmentKeys();
    const names = instructionsOf(finalStage, 'ENV').flatMap(envNames);
    expect(names).toEqual(expect.arrayContaining(['NODE_ENV', 'SCIMFLOW_DATA_DIR', 'SCIMFLOW_API_HOST']));
    expect(names.filter((name) => name !== 'NODE_ENV' && !known.has(name))).toEqual([]);

    const dataDir = /(?:^|\s)SCIMFLOW_DATA_DIR=(\S+)/.exec(instructionsOf(finalStage, 'ENV').join(' '))?.[1];
    const volumes = instructionsOf(finalStage, 'VOLUME').join(' ');
    expect(dataDir).toBe('/data');
    expect(volumes).toContain(`"${dataDir}"`);
  });

  it('defaults to running the API', () => {
    expect(dockerCmd()).toEqual(['node', 'dist/api/main.js']);
    expect(instructionsOf(finalStage, 'EXPOSE').join(' ').split(/\s+/)).toContain('3000');
  });

  it('keeps host build output and dependencies out of the build context', () => {
    const ignored = read('.dockerignore')
      .split(/\r?\n/)
      .map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.data', '.git']));
  });
});

describe('container entrypoints', () => {
  // dist/ does not exist before `npm run build`; what the image runs must have a TypeScript source.
  const cmd = (() => {
    try {
      return dockerCmd();
    } catch (error) {
      return [`(${(error as Error).message})`];
    }
  })();
  const entrypoints = [
    ['Dockerfile CMD', cmd],
    ...scimflowServices.map((name) => [`${name} command`, asList(service(name).command)] as const),
  ].map(([origin, command]) => {
    // The script is node's first argument that is not an option (the worker's has V8 heap options first).
    const args = typeof command === 'string' ? [command] : command;
    const script = args[0] === 'node' ? args.slice(1).find((arg) => !arg.startsWith('-')) : undefined;
    return [origin, script ?? `(not "node <file>": ${JSON.stringify(command)})`] as const;
  });

  it.each(entrypoints)('%s runs %s, compiled from an existing source file', (_origin, script) => {
    expect(script).toMatch(/^dist\/.+\.js$/);
    const source = sourceOf(script);
    expect({ source, exists: fs.existsSync(path.join(root, source)) }).toEqual({ source, exists: true });
  });
});
