import type { Keyring } from '../../security/keyring';
import type { AppAuth } from '../model';
import { type Db, inTransaction } from './tables';

/**
 * An app's credentials at rest (`apps.auth`, text): `sealed:v1:<type>:<base64 of the sealed JSON>`. The type stands
 * in clear so that an app whose key is lost still shows (and can be given new credentials through PATCH); the
 * context binds the sealed value to its app and type, so it opens nowhere else and the clear type cannot be
 * swapped. Rows written before sealing existed hold the plain JSON; they still read, and the store seals them when
 * it opens (`sealAppCredentials`).
 */
const SEALED_PREFIX = 'sealed:v1:';

const contextOf = (appId: string, type: AppAuth['type']) => `app-auth:${appId}:${type}`;

export function sealCredentials(keyring: Keyring, appId: string, auth: AppAuth): string {
  const sealed = keyring.seal(Buffer.from(JSON.stringify(auth)), contextOf(appId, auth.type));
  return `${SEALED_PREFIX}${auth.type}:${sealed.toString('base64')}`;
}

/** Thrown where an app's credentials are used (a SCIM call), not where the app is read, so the app still shows. */
export class UnreadableCredentialsError extends Error {
  constructor(appId: string, reason: string) {
    super(
      `the credentials of app ${appId} cannot be read (${reason}); configure the key they were sealed with ` +
        `(docs/operations.md, "Keys") or enter them again: PATCH /api/apps/${appId} with "auth"`,
    );
    this.name = 'UnreadableCredentialsError';
  }
}

type StoredCredentials =
  | { plain: AppAuth; sealed?: undefined }
  | { plain?: undefined; sealed: { type: AppAuth['type']; value: Buffer } };

function parse(stored: string): StoredCredentials {
  if (!stored.startsWith(SEALED_PREFIX)) return { plain: JSON.parse(stored) as AppAuth };
  const rest = stored.slice(SEALED_PREFIX.length);
  const colon = rest.indexOf(':');
  const type = rest.slice(0, colon) as AppAuth['type'];
  return { sealed: { type, value: Buffer.from(rest.slice(colon + 1), 'base64') } };
}

/**
 * Credentials opened, by app and sealed value (a new value, sealed with a fresh IV, is a new entry): every SCIM
 * call reads its app, and opening its credentials each time was a noticeable share of a busy worker's time. They
 * are held in memory anyway, by every client made from them.
 */
const opened = new Map<string, { keyring: Keyring; auth: AppAuth }>();
const MAX_OPENED = 1_000;

/**
 * The app's credentials. When they cannot be opened (their key is not configured), the app still reads: its
 * `auth` has the type, and reading the secret itself throws `UnreadableCredentialsError`.
 */
export function openCredentials(keyring: Keyring, appId: string, stored: string): AppAuth {
  const { sealed, plain } = parse(stored);
  if (plain) return plain;
  const key = `${appId}\u0000${stored}`;
  const known = opened.get(key);
  if (known?.keyring === keyring) return { ...known.auth };
  try {
    const auth = JSON.parse(keyring.open(sealed.value, contextOf(appId, sealed.type)).toString()) as AppAuth;
    if (opened.size >= MAX_OPENED) opened.clear();
    opened.set(key, { keyring, auth });
    return { ...auth };
  } catch (error) {
    const failure = new UnreadableCredentialsError(appId, (error as Error).message);
    // Enumerable, so that a copy of the credentials fails as loudly as a read instead of dropping the secret.
    const secret = {
      enumerable: true,
      get: () => {
        throw failure;
      },
    };
    return Object.defineProperties(
      { type: sealed.type },
      sealed.type === 'bearer' ? { token: secret } : { username: secret, password: secret },
    ) as AppAuth;
  }
}

export interface CredentialsReport {
  /** Apps in the store. */
  apps: number;
  /** Apps whose credentials were sealed (again) with the current key by this pass. */
  sealed: number;
  /** Apps whose credentials are sealed with a key that is not configured: left as they are. */
  unreadable: string[];
}

/** What a sealing pass would change: the credentials to seal with the current key, and the apps it cannot read. */
function sealingPlan(rows: { id: string; auth: string }[], keyring: Keyring, which: 'plain' | 'rotate') {
  const toSeal: { id: string; auth: AppAuth }[] = [];
  const unreadable: string[] = [];
  for (const row of rows) {
    const { sealed, plain } = parse(row.auth);
    if (plain) {
      toSeal.push({ id: row.id, auth: plain });
    } else if (keyring.sealedWithOlderKey(sealed.value)) {
      try {
        const opened = keyring.open(sealed.value, contextOf(row.id, sealed.type));
        if (which === 'rotate') toSeal.push({ id: row.id, auth: JSON.parse(opened.toString()) as AppAuth });
      } catch {
        unreadable.push(row.id);
      }
    }
  }
  return { toSeal, unreadable };
}

/**
 * Seals every app's credentials with the current key: those stored in plain JSON (`'plain'`: what the store does
 * when it opens), or also those sealed with an older key (`'rotate'`: `npm run rotate-key`). It reads first and
 * takes the write lock only when there is something to seal, so the usual open (nothing to do) blocks no writer.
 * Running it again finds nothing to do.
 */
export async function sealAppCredentials(
  db: Db,
  keyring: Keyring,
  which: 'plain' | 'rotate',
): Promise<CredentialsReport> {
  const read = (from: Db) => from.selectFrom('apps').select(['id', 'auth']).orderBy('id').execute();
  const rows = await read(db);
  const first = sealingPlan(rows, keyring, which);
  if (first.toSeal.length === 0) return { apps: rows.length, sealed: 0, unreadable: first.unreadable };
  return inTransaction(db, async (trx) => {
    const current = await read(trx);
    const { toSeal, unreadable } = sealingPlan(current, keyring, which);
    for (const { id, auth } of toSeal) {
      await trx
        .updateTable('apps')
        .set({ auth: sealCredentials(keyring, id, auth) })
        .where('id', '=', id)
        .execute();
    }
    return { apps: current.length, sealed: toSeal.length, unreadable };
  });
}

/** What an operator reads when apps' credentials are sealed with a key that is not configured. */
export function unreadableNotice(report: CredentialsReport): string {
  return (
    `${report.unreadable.length} app(s) have credentials sealed with a key that is not configured ` +
    `(${report.unreadable.join(', ')}): they cannot call their SCIM service until that key is configured as a ` +
    'previous key or their credentials are entered again (PATCH /api/apps/<id> with "auth"); see ' +
    'docs/operations.md, "Keys"'
  );
}
