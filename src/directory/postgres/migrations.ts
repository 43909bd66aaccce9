import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import { createAppManagedAndRateLimitTables } from '../kysely/sharedMigrations';

/**
 * Text that sorts and compares byte by byte, as SQLite's does: ids, name keys and ISO 8601 timestamps order the same
 * on both stores, whatever collation the database was created with.
 */
const text = sql`text collate "C"`;
const notNull = (column: ColumnDefinitionBuilder) => column.notNull();

/**
 * Forward-only, in order, as the SQLite store's (`sqlite/migrations.ts`): add a new entry for every change, never
 * edit one that has shipped. The PostgreSQL store began with the schema SQLite had reached, so its first migration
 * creates all of it. Kysely's migrator holds an advisory lock while it runs: processes starting at once migrate once.
 */
export const migrations: Record<string, Migration> = {
  '0001_directory': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', text, (c) => c.primaryKey())
        .addColumn('user_name', text, notNull)
        .addColumn('user_name_key', text, (c) => c.notNull().unique())
        .addColumn('attributes', text, notNull)
        .addColumn('created_at', text, notNull)
        .addColumn('updated_at', text, notNull)
        .execute();
      await db.schema
        .createTable('groups')
        .addColumn('id', text, (c) => c.primaryKey())
        .addColumn('display_name', text, notNull)
        .addColumn('display_name_key', text, (c) => c.notNull().unique())
        .addColumn('created_at', text, notNull)
        .addColumn('updated_at', text, notNull)
        .execute();
      await db.schema
        .createTable('group_members')
        .addColumn('group_id', text, (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addColumn('user_id', text, (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
        .execute();
      await db.schema.createIndex('group_members_user').on('group_members').column('user_id').execute();
      await db.schema
        .createTable('apps')
        .addColumn('id', text, (c) => c.primaryKey())
        .addColumn('settings', text, notNull)
        .addColumn('auth', text, notNull)
        .addColumn('created_at', text, notNull)
        .addColumn('updated_at', text, notNull)
        .execute();
      await db.schema
        .createTable('app_groups')
        .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('group_id', text, (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('app_groups_pk', ['app_id', 'group_id'])
        .execute();
      await db.schema.createIndex('app_groups_group').on('app_groups').column('group_id').execute();
      // Links and remote memberships outlive the directory record on purpose: deprovisioning a deleted user
      // or group still needs to know its remote id.
      await db.schema
        .createTable('remote_links')
        .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('resource_type', text, notNull)
        .addColumn('local_id', text, notNull)
        .addColumn('remote_id', text)
        .addColumn('last_pushed', text)
        .addColumn('status', text, notNull)
        .addColumn('last_error', text)
        .addColumn('updated_at', text, notNull)
        .addPrimaryKeyConstraint('remote_links_pk', ['app_id', 'resource_type', 'local_id'])
        .execute();
      await db.schema
        .createTable('remote_memberships')
        .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('group_id', text, notNull)
        .addColumn('user_id', text, notNull)
        .addPrimaryKeyConstraint('remote_memberships_pk', ['app_id', 'group_id', 'user_id'])
        .execute();
      await db.schema
        .createIndex('remote_memberships_user')
        .on('remote_memberships')
        .columns(['app_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('member_writes_in_flight')
        .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('group_id', text, notNull)
        .addColumn('user_id', text, notNull)
        .addPrimaryKeyConstraint('member_writes_in_flight_pk', ['app_id', 'group_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('creation_claims')
        .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('resource_type', text, notNull)
        .addColumn('local_id', text, notNull)
        .addColumn('claimant', text, notNull)
        .addColumn('claimed_at', text, notNull)
        .addColumn('expires_at', text, notNull)
        .addPrimaryKeyConstraint('creation_claims_pk', ['app_id', 'resource_type', 'local_id'])
        .execute();

      // The outbox. `sequence` is taken under the store's write lock (postgresStore.ts), so rows commit in its order
      // and a lane's order is the order of its sequences.
      await db.schema
        .createTable('operations')
        .addColumn('sequence', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
        .addColumn('workflow_id', text, (c) => c.unique())
        .addColumn('app_id', text, notNull)
        .addColumn('intent', text, notNull)
        .addColumn('resource_type', text, notNull)
        .addColumn('resource_id', text, notNull)
        .addColumn('lane_id', text, notNull)
        .addColumn('request', text, notNull)
        .addColumn('issued_at', text, notNull)
        .addColumn('dispatched_at', text)
        .addColumn('lease_until', text)
        .addColumn('delivery_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_delivery_error', text)
        .addColumn('closed_at', text)
        .execute();
      await db.schema
        .createIndex('operations_undispatched')
        .on('operations')
        .columns(['dispatched_at', 'sequence'])
        .execute();
      await db.schema
        .createIndex('operations_lane')
        .on('operations')
        .columns(['lane_id', 'sequence'])
        .execute();
      await db.schema
        .createIndex('operations_lane_open')
        .on('operations')
        .columns(['lane_id', 'closed_at', 'sequence'])
        .execute();

      await db.schema
        .createTable('permissions')
        .addColumn('key', text, (c) => c.primaryKey())
        .addColumn('description', text)
        .addColumn('created_at', text, notNull)
        .execute();
      await db.schema
        .createTable('roles')
        .addColumn('id', text, (c) => c.primaryKey())
        .addColumn('name', text, notNull)
        .addColumn('name_key', text, (c) => c.notNull().unique())
        .addColumn('created_at', text, notNull)
        .addColumn('updated_at', text, notNull)
        .execute();
      await db.schema
        .createTable('role_permissions')
        .addColumn('role_id', text, (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addColumn('permission_key', text, (c) =>
          c.notNull().references('permissions.key').onDelete('cascade'),
        )
        .addPrimaryKeyConstraint('role_permissions_pk', ['role_id', 'permission_key'])
        .execute();
      await db.schema
        .createTable('role_groups')
        .addColumn('role_id', text, (c) => c.notNull().references('roles.id').onDelete('cascade'))
        .addColumn('group_id', text, (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('role_groups_pk', ['role_id', 'group_id'])
        .execute();
      await db.schema.createIndex('role_groups_group').on('role_groups').column('group_id').execute();
      await db.schema
        .createTable('app_permissions')
        .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('permission_key', text, (c) =>
          c.notNull().references('permissions.key').onDelete('cascade'),
        )
        .addPrimaryKeyConstraint('app_permissions_pk', ['app_id', 'permission_key'])
        .execute();

      await db.schema
        .createTable('reconciliations')
        .addColumn('workflow_id', text, (c) => c.primaryKey())
        .addColumn('app_id', text, (c) => c.notNull().references('apps.id').onDelete('cascade'))
        .addColumn('status', text, notNull)
        .addColumn('dry_run', 'integer', notNull)
        .addColumn('confirm_deletions', 'integer', notNull)
        .addColumn('started_at', text, notNull)
        .addColumn('finished_at', text)
        .addColumn('report', text)
        .addColumn('progress', text)
        .execute();
      await db.schema
        .createIndex('reconciliations_app')
        .on('reconciliations')
        .columns(['app_id', 'started_at'])
        .execute();
      // A run's working set: every object it compared and what it does about it. Cleared when the run ends.
      await db.schema
        .createTable('reconciliation_items')
        .addColumn('workflow_id', text, (c) =>
          c.notNull().references('reconciliations.workflow_id').onDelete('cascade'),
        )
        .addColumn('resource_type', text, notNull)
        .addColumn('key', text, notNull)
        .addColumn('local_id', text)
        .addColumn('remote_id', text)
        .addColumn('name', text, notNull)
        .addColumn('action', text, notNull)
        .addColumn('state', text, notNull)
        .addColumn('detail', text)
        .addColumn('error', text)
        .addColumn('remote', text)
        .addPrimaryKeyConstraint('reconciliation_items_pk', ['workflow_id', 'resource_type', 'key'])
        .execute();
      await db.schema
        .createIndex('reconciliation_items_action')
        .on('reconciliation_items')
        .columns(['workflow_id', 'action', 'state'])
        .execute();
    },
  },
  '0002_app_managed_attributes_and_rate_limits': {
    async up(db: Kysely<unknown>) {
      await createAppManagedAndRateLimitTables(db, text, 'double precision');
    },
  },
};
