import type { ColumnDataType, Expression, Kysely } from 'kysely';

type DataTypeExpression = ColumnDataType | Expression<unknown>;

/**
 * The same two tables on both databases (postgres/migrations.ts calls it too):
 * - `app_managed_attributes`: an attribute of one object that the app derives, normalises or ignores, seen after a
 *   write; scimflow stops writing that value there (see `AppManagedStore`).
 * - `rate_limits`: one row per app's request bucket, shared by every process (see rateLimits.ts); times are epoch ms.
 */
export async function createAppManagedAndRateLimitTables(
  db: Kysely<unknown>,
  text: DataTypeExpression,
  milliseconds: 'real' | 'double precision',
): Promise<void> {
  await db.schema
    .createTable('app_managed_attributes')
    .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('resource_type', text, (c) => c.notNull())
    .addColumn('local_id', text, (c) => c.notNull())
    .addColumn('attribute', text, (c) => c.notNull())
    .addColumn('reason', text, (c) => c.notNull())
    .addColumn('wanted', text, (c) => c.notNull())
    .addColumn('detected_at', text, (c) => c.notNull())
    .addPrimaryKeyConstraint('app_managed_attributes_pk', [
      'app_id',
      'resource_type',
      'local_id',
      'attribute',
    ])
    .execute();
  await db.schema
    .createTable('rate_limits')
    .addColumn('bucket', text, (c) => c.primaryKey())
    .addColumn('next_slot_ms', milliseconds, (c) => c.notNull())
    .addColumn('paused_until_ms', milliseconds, (c) => c.notNull())
    .execute();
}
