import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The admin console: a few static files (Preact + htm as native ES modules, no build step) served by the API
 * process itself, so it works without internet access. The files are public; the pages hold no data and ask the
 * API for everything with the operator's token (`Authorization: Bearer`, kept in sessionStorage, never a cookie).
 */
export const CONSOLE_PREFIX = '/console';

/**
 * The console's own browser code (index.html and its modules): beside this file when it runs from src/ (tsx), or
 * copied beside the compiled one; a build that compiled src/ to dist/ without copying them finds them in src/.
 */
export function consoleUiDir(): string | undefined {
  const candidates = [
    path.join(__dirname, 'ui'),
    path.resolve(__dirname, '..', '..', 'src', 'console', 'ui'),
  ];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
}

/** The routes that skip the API's token check: the console's files, and `/` which redirects to them. */
export function isConsoleRoute(routeUrl: string | undefined): boolean {
  return (
    routeUrl === '/' || routeUrl === CONSOLE_PREFIX || routeUrl?.startsWith(`${CONSOLE_PREFIX}/`) === true
  );
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The folder a package is installed in, found from its main entry: `<name>/package.json` cannot be resolved for
 * packages whose `exports` leave it out (htm), and Node refuses what jest's resolver allows.
 */
function packageDir(name: string): string {
  for (let dir = path.dirname(require.resolve(name)); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === name) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find where ${name} is installed`);
  }
}

/** The libraries the pages import, by the names the import map gives them (index.html). */
function vendorFiles(): Record<string, string> {
  return {
    'preact.mjs': path.join(packageDir('preact'), 'dist', 'preact.mjs'),
    'hooks.mjs': path.join(packageDir('preact'), 'hooks', 'dist', 'hooks.mjs'),
    'htm.mjs': path.join(packageDir('htm'), 'dist', 'htm.module.js'),
  };
}

/** Every file below `dir`, by its path relative to it (with `/`). */
function filesBelow(dir: string, prefix = ''): Record<string, string> {
  const found: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const relative = `${prefix}${entry.name}`;
    if (entry.isDirectory()) Object.assign(found, filesBelow(path.join(dir, entry.name), `${relative}/`));
    else if (TYPES[path.extname(entry.name)]) found[relative] = path.join(dir, entry.name);
  }
  return found;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('base64');

/**
 * The page's Content-Security-Policy: scripts only from this origin, plus the one inline script there is, the
 * import map, allowed by its hash (browsers read import maps only inline). No inline styles, no eval, no framing.
 */
export function contentSecurityPolicy(indexHtml: string): string {
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(indexHtml)?.[1];
  const scriptSources = ["'self'", ...(importMap === undefined ? [] : [`'sha256-${sha256(importMap)}'`])];
  return [
    "default-src 'none'",
    `script-src ${scriptSources.join(' ')}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Reads the console's files once, at start: they are small, and each gets its ETag. */
function loadAssets(uiDir: string): { assets: Map<string, Asset>; csp: string } {
  const assets = new Map<string, Asset>();
  const add = (name: string, file: string, cacheControl: string) => {
    const body = fs.readFileSync(file);
    assets.set(name, {
      body,
      type: TYPES[path.extname(file)] ?? 'application/octet-stream',
      etag: `"${sha256(body).slice(0, 27)}"`,
      cacheControl,
    });
  };
  // The console's own files change with each release: the browser asks again each time (and gets a 304).
  for (const [name, file] of Object.entries(filesBelow(uiDir))) add(name, file, 'no-cache');
  // The libraries change only with package.json; an hour's cache, then revalidated.
  for (const [name, file] of Object.entries(vendorFiles()))
    add(`vendor/${name}`, file, 'public, max-age=3600');
  const index = assets.get('index.html');
  if (!index) throw new Error(`the console has no index.html in ${uiDir}`);
  return { assets, csp: contentSecurityPolicy(index.body.toString('utf8')) };
}

/**
 * Serves the console at `/console/` (and redirects `/` there). Its routes skip the token check (`isConsoleRoute`).
 * Without its files (an install that left them out) the API runs as ever, and `/console/` says what is missing.
 */
export function consoleRoutes(options: { uiDir?: string } = {}) {
  const uiDir = options.uiDir ?? consoleUiDir();
  if (!uiDir) {
    return async (api: FastifyInstance) => {
      api.log.warn('the console files (src/console/ui) are not installed: /console/ is not served');
      api.get(`${CONSOLE_PREFIX}/*`, { schema: { hide: true } }, (_request, reply) =>
        reply.code(404).send({
          error: 'not-found',
          message: 'the console files are not installed: copy src/console/ui beside dist/console/serve.js',
        }),
      );
    };
  }
  const { assets, csp } = loadAssets(uiDir);

  const send = (request: FastifyRequest, reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    if (!asset) {
      return reply.code(404).send({ error: 'not-found', message: `no console file ${name}` });
    }
    reply
      .header('Content-Type', asset.type)
      .header('Cache-Control', asset.cacheControl)
      .header('ETag', asset.etag)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'no-referrer')
      .header('Cross-Origin-Opener-Policy', 'same-origin');
    if (name.endsWith('.html'))
      reply.header('Content-Security-Policy', csp).header('X-Frame-Options', 'DENY');
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  };

  return async (api: FastifyInstance) => {
    const hide = { schema: { hide: true } };
    api.get('/', hide, (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/`));
    api.get(CONSOLE_PREFIX, hide, (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/`));
    api.get(`${CONSOLE_PREFIX}/`, hide, (request, reply) => send(request, reply, 'index.html'));
    api.get<{ Params: { '*': string } }>(`${CONSOLE_PREFIX}/*`, hide, (request, reply) =>
      send(request, reply, request.params['*']),
    );
  };
}
