import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

/** The npm packages a module loads, found by requiring it in a fresh Node process (as `npm run worker` does). */
function packagesLoadedBy(entry: string): string[] {
  const script = `
    require(${JSON.stringify(entry)});
    const names = new Set();
    for (const file of Object.keys(require.cache)) {
      const at = file.lastIndexOf('node_modules/');
      if (at < 0) continue;
      const parts = file.slice(at + 'node_modules/'.length).split('/');
      names.add(parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]);
    }
    process.stdout.write(JSON.stringify([...names]));
  `;
  const output = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
  return JSON.parse(output) as string[];
}

describe('the worker process', () => {
  test('given `npm run worker`, when its entry loads, then no HTTP API code (fastify) comes with it', () => {
    const loaded = packagesLoadedBy(path.join(root, 'src/worker.ts'));
    // The check must see the worker's real dependencies, or an empty list would pass it.
    expect(loaded).toEqual(expect.arrayContaining(['@temporalio/worker', 'axios', 'better-sqlite3']));
    expect(loaded.filter((name) => /fastify/.test(name))).toEqual([]);
  });

  test('given the API entry, when it loads, then fastify comes with it (so the check above can fail)', () => {
    const loaded = packagesLoadedBy(path.join(root, 'src/api/wiring.ts'));
    expect(loaded).toContain('fastify');
  });
});
