import { type Kysely, type Migration, sql } from 'kysely';
import { nameKey } from '../names';
import { createAppManagedAndRateLimitTables } from '../kysely/sharedMigrations';

/** Forward-only, in order. Add a new entry for every change; never edit one that has shipped. */
export const migrations: Record<string, Migration> = {
  '0001_directory': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('user_name_key', 'text', (c) => c.notNull().unique())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('display_name_key', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('group_members')
        .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
        .execute();
      await db.schema.createIndex('group_members_user').on('group_members').column('user_id').execute();
      await db.schema
        .createTable('apps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('auth', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('app_groups')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('app_groups_pk', ['app_id', 'group_id'])
        .execute();
      await db.schema.createIndex('app_groups_group').on('app_groups').column('group_id').execute();
      // Links and remote memberships outlive the directory record on purpose: deprovisioning a deleted user
      // or group still needs to know its remote id.
      await db.schema
        .createTable('remote_links')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('local_id', 'text', (c) => c.notNull())
        .addColumn('remote_id', 'text')
        .addColumn('last_pushed', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('remote_links_pk', ['app_id', 'resource_type', 'local_id'])
        .execute();
      await db.schema
        .createTable('remote_memberships')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('remote_memberships_pk', ['app_id', 'group_id', 'user_id'])
        .execute();
      await db.schema
        .createIndex('remote_memberships_user')
        .on('remote_memberships')
        .columns(['app_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('operations')
        .addColumn('sequence', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('workflow_id', 'text', (c) => c.unique())
        .addColumn('app_id', 'text', (c) => c.notNull())
        .addColumn('intent', 'text', (c) => c.notNull())
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('lane_id', 'text', (c) => c.notNull())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('dispatched_at', 'text')
        .execute();
      // The outbox: intents recorded but not yet handed to Temporal.
      await db.schema
        .createIndex('operations_undispatched')
        .on('operations')
        .columns(['dispatched_at', 'sequence'])
        .execute();
    },
  },
  '0002_roles_and_permissions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('permissions')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('roles')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('name_key', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('role_permissions')
        .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addColumn('permission_key', 'text', (c) =>
          c.notNull().references('permissions.key').onDelete('cascade'),
        )
        .addPrimaryKeyConstraint('role_permissions_pk', ['role_id', 'permission_key'])
        .execute();
      await db.schema
        .createTable('role_groups')
        .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('role_groups_pk', ['role_id', 'group_id'])
        .execute();
      await db.schema.createIndex('role_groups_group').on('role_groups').column('group_id').execute();
      await db.schema
        .createTable('app_permissions')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('permission_key', 'text', (c) =>
          c.notNull().references('permissions.key').onDelete('cascade'),
        )
        .addPrimaryKeyConstraint('app_permissions_pk', ['app_id', 'permission_key'])
        .execute();
    },
  },
  '0003_reconciliation': {
    async up(db: Kysely<unknown>) {
      // Apps created before scheduled reconciliation get its defaults, as a new app would.
      const defaults = { intervalMinutes: 60, pageSize: 100, deletionThreshold: { percent: 10, count: 500 } };
      await sql`UPDATE apps SET settings = json_set(settings, '$.reconcile', json(${JSON.stringify(defaults)}))
                WHERE json_type(settings, '$.reconcile') IS NULL`.execute(db);
      await db.schema
        .createTable('reconciliations')
        .addColumn('workflow_id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('dry_run', 'integer', (c) => c.notNull())
        .addColumn('confirm_deletions', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('report', 'text')
        .addColumn('progress', 'text')
        .execute();
      await db.schema
        .createIndex('reconciliations_app')
        .on('reconciliations')
        .columns(['app_id', 'started_at'])
        .execute();
      // A run's working set: every object it compared and what it does about it. Cleared when the run ends.
      await db.schema
        .createTable('reconciliation_items')
        .addColumn('workflow_id', 'text', (c) =>
          c.notNull().references('reconciliations.workflow_id').onDelete('cascade'),
        )
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('local_id', 'text')
        .addColumn('remote_id', 'text')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('error', 'text')
        .addColumn('remote', 'text')
        .addPrimaryKeyConstraint('reconciliation_items_pk', ['workflow_id', 'resource_type', 'key'])
        .execute();
      await db.schema
        .createIndex('reconciliation_items_action')
        .on('reconciliation_items')
        .columns(['workflow_id', 'action', 'state'])
        .execute();
    },
  },
  '0004_outbox_leases_and_creation_claims': {
    async up(db: Kysely<unknown>) {
      // A delivery in flight holds its operation until `lease_until`, so no other pass starts it again.
      await db.schema.alterTable('operations').addColumn('lease_until', 'text').execute();
      await db.schema
        .alterTable('operations')
        .addColumn('delivery_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('operations').addColumn('last_delivery_error', 'text').execute();
      await db.schema
        .createIndex('operations_lane')
        .on('operations')
        .columns(['lane_id', 'sequence'])
        .execute();
      // Whoever is about to POST a user or group to an app claims it first: one remote object per directory object.
      await db.schema
        .createTable('creation_claims')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('local_id', 'text', (c) => c.notNull())
        .addColumn('claimant', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('creation_claims_pk', ['app_id', 'resource_type', 'local_id'])
        .execute();
    },
  },
  '0005_normalized_name_keys': {
    // userName, displayName and role names are unique under `nameKey` (NFKC, case-folded: names.ts) instead of
    // `trim().toLowerCase()`. This uses the live function on purpose: the keys must be the ones the store computes
    // (a later change to it needs a migration of its own, like this one).
    // Like every migration, inside the one transaction the store runs the pending ones in (sqliteStore.ts).
    async up(db: Kysely<unknown>) {
      const kept: string[] = [];
      for (const table of nameKeyedTables) kept.push(...(await recomputeNameKeys(db, table)));
      if (kept.length) {
        process.emitWarning(
          `${kept.length} name(s) are now the same as an older one under the normalized comparison and were kept ` +
            `as duplicates (they keep working; rename them to make the names unique): ${kept.slice(0, 20).join('; ')}` +
            (kept.length > 20 ? `; and ${kept.length - 20} more` : ''),
          { code: 'SCIMFLOW_DUPLICATE_NAMES' },
        );
      }
    },
  },
  '0006_lanes_kept_by_the_outbox': {
    // Intents are started directly, no longer through a lane workflow: the outbox keeps each lane's order by
    // starting an operation only once every earlier one of its lane has closed. Rows delivered before keep
    // `closed_at` null; the dispatcher confirms their closing with Temporal when a later intent waits on them.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('operations').addColumn('closed_at', 'text').execute();
      await db.schema
        .createIndex('operations_lane_open')
        .on('operations')
        .columns(['lane_id', 'closed_at', 'sequence'])
        .execute();
    },
  },
  '0007_member_writes_in_flight': {
    // A membership PATCH about to be sent for a user joining a group: until it is confirmed, the target may or may
    // not hold the member, and whoever meets the row (the join's retry, the group's next sync) settles it.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('member_writes_in_flight')
        .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('member_writes_in_flight_pk', ['app_id', 'group_id', 'user_id'])
        .execute();
    },
  },
  '0008_app_managed_attributes_and_rate_limits': {
    async up(db: Kysely<unknown>) {
      await createAppManagedAndRateLimitTables(db, 'text', 'real');
    },
  },
};

const nameKeyedTables = [
  { table: 'users', name: 'user_name', key: 'user_name_key', what: 'user' },
  { table: 'groups', name: 'display_name', key: 'display_name_key', what: 'group' },
  { table: 'roles', name: 'name', key: 'name_key', what: 'role' },
] as const;

/**
 * Two rows whose names were distinct under the old key may be one under the new. Refusing to migrate would leave
 * scimflow unable to start, with no API to rename either; merging them would lose one. So the older row (by
 * `created_at`) keeps the key and the newer keeps working under `<key>␟<its id>` (U+001F, which no name may
 * contain now): it is not found by a look-up by name, it refuses nothing, and a rename gives it an ordinary key.
 * Answers one line per duplicate kept.
 */
async function recomputeNameKeys(
  db: Kysely<unknown>,
  { table, name, key, what }: (typeof nameKeyedTables)[number],
): Promise<string[]> {
  const { rows } = await sql<{ id: string; name: string; key: string }>`
    SELECT id, ${sql.ref(name)} AS name, ${sql.ref(key)} AS key FROM ${sql.table(table)} ORDER BY created_at, id
  `.execute(db);
  const holders = new Map<string, string>();
  const kept: string[] = [];
  const changed: { id: string; key: string }[] = [];
  for (const row of rows) {
    let next = nameKey(row.name);
    const holder = holders.get(next);
    if (holder) {
      // Ids only: the warning goes to the process's log, names are personal data.
      kept.push(`${what} ${row.id} (same name as ${holder})`);
      next = `${next}\u001f${row.id}`;
    } else {
      holders.set(next, row.id);
    }
    if (next !== row.key) changed.push({ id: row.id, key: next });
  }
  // First a key no row can hold, then the new one: no update meets a key another row has not given up yet.
  for (const row of changed) {
    const placeholder = `\u001f${row.id}`;
    await sql`UPDATE ${sql.table(table)} SET ${sql.ref(key)} = ${placeholder} WHERE id = ${row.id}`.execute(
      db,
    );
  }
  for (const row of changed) {
    await sql`UPDATE ${sql.table(table)} SET ${sql.ref(key)} = ${row.key} WHERE id = ${row.id}`.execute(db);
  }
  return kept;
}
