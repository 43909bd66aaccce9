import { UnknownReferenceError } from '../errors';
import type { Db } from './tables';

/** Timestamps are ISO 8601 text, which sorts as it reads. */
export const now = () => new Date().toISOString();

/**
 * SQLite caps bound parameters per statement (PostgreSQL at 65,535); large id lists are queried in slices small
 * enough for both.
 */
const SQL_SLICE = 500;

export function slices<T>(items: T[], size = SQL_SLICE): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

/** Runs a write that a unique key may refuse; the refusal becomes `duplicate()` (a `DuplicateError`, the API's 409). */
export async function refusingDuplicates<T>(
  write: Promise<T>,
  isDuplicate: (error: unknown) => boolean,
  duplicate: () => Error,
): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isDuplicate(error)) throw duplicate();
    throw error;
  }
}

/** All or nothing: a reference to a missing user, group or permission fails the whole change. */
export async function assertExist(
  db: Db,
  resource: 'user' | 'group' | 'permission',
  ids: string[],
): Promise<void> {
  const found = new Set<string>();
  for (const slice of slices(ids)) {
    const rows =
      resource === 'permission'
        ? await db.selectFrom('permissions').select('key as id').where('key', 'in', slice).execute()
        : await db
            .selectFrom(resource === 'user' ? 'users' : 'groups')
            .select('id')
            .where('id', 'in', slice)
            .execute();
    rows.forEach((row) => found.add(row.id));
  }
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) throw new UnknownReferenceError(resource, missing);
}

/** Whether an insert that ignores conflicts (a membership or assignment already there) added its row. */
export const inserted = (result: { numInsertedOrUpdatedRows?: bigint }) =>
  Number(result.numInsertedOrUpdatedRows ?? 0) > 0;

export const deleted = (result: { numDeletedRows: bigint }) => Number(result.numDeletedRows) > 0;
