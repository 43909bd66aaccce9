import { ApiError, type AppRecord, type GroupRecord, type UserRecord } from './apiClient';
import { type Context, UsageError } from './context';

const idPattern = /^[A-Za-z0-9._:-]{1,128}$/;

const notFound = (what: string, ref: string) =>
  new ApiError(404, { error: 'not-found', message: `${what} ${ref} not found` });

/**
 * Apps, users and groups are named by id or by name (an app's `name`, a `userName`, a group's `displayName`): an
 * id-shaped reference is tried as an id first, and an unknown one answers the API's own 404.
 */
async function byIdOrName<T extends { id: string }>(
  ref: string,
  what: string,
  get: (id: string) => Promise<T>,
  byName: (name: string) => Promise<T[]>,
): Promise<T> {
  let missing: ApiError | undefined;
  if (idPattern.test(ref)) {
    try {
      return await get(ref);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      missing = error;
    }
  }
  const found = await byName(ref);
  if (found.length === 1) return found[0];
  if (found.length > 1) {
    throw new UsageError(
      `${found.length} ${what}s are named "${ref}": name one by id (${found.map((f) => f.id).join(', ')})`,
    );
  }
  throw missing ?? notFound(what, ref);
}

export const resolveApp = (c: Context, ref: string): Promise<AppRecord> =>
  byIdOrName(
    ref,
    'app',
    (id) => c.client.apps.get(id),
    async (name) => {
      const { items } = await c.client.apps.list();
      const exact = items.filter((app) => app.name === name);
      return exact.length ? exact : items.filter((app) => app.name.toLowerCase() === name.toLowerCase());
    },
  );
export const resolveUser = (c: Context, ref: string): Promise<UserRecord> =>
  byIdOrName(
    ref,
    'user',
    (id) => c.client.users.get(id),
    async (userName) => (await c.client.users.list({ userName })).items,
  );
export const resolveGroup = (c: Context, ref: string): Promise<GroupRecord> =>
  byIdOrName(
    ref,
    'group',
    (id) => c.client.groups.get(id),
    async (displayName) => (await c.client.groups.list({ displayName })).items,
  );
