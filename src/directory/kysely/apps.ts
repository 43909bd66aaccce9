import { randomUUID } from 'node:crypto';
import type { Keyring } from '../../security/keyring';
import type { DirectoryApp } from '../model';
import { mergeReconcileSettings, reconcileSettingsSchema } from '../model';
import type { AppStore } from '../store';
import { openCredentials, sealCredentials } from './appCredentials';
import { assertExist, deleted, now, slices } from './conventions';
import { type Db, inTransaction, type Tables } from './tables';

/**
 * An app is kept as its settings (JSON) and, apart, its credentials (`auth`, sealed with the keyring: see
 * appCredentials.ts). `reconcile` is read through its schema, so settings stored before one of its fields existed
 * (`deletionThreshold.minimum`) read its default, as a new app would, without a migration.
 */
function toApp(row: Tables['apps'], keyring: Keyring): DirectoryApp {
  const settings = JSON.parse(row.settings);
  return {
    id: row.id,
    ...settings,
    reconcile: reconcileSettingsSchema.parse(settings.reconcile ?? {}),
    auth: openCredentials(keyring, row.id, row.auth),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function appQueries(db: Db, keyring: Keyring): AppStore {
  return {
    async createApp(input) {
      const id = randomUUID();
      const timestamp = now();
      const { auth, ...settings } = input;
      await db
        .insertInto('apps')
        .values({
          id,
          settings: JSON.stringify(settings),
          auth: sealCredentials(keyring, id, auth),
          created_at: timestamp,
          updated_at: timestamp,
        })
        .execute();
      return { id, ...input, createdAt: timestamp, updatedAt: timestamp };
    },

    async getApp(id) {
      const row = await db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toApp(row, keyring) : null;
    },

    async listApps() {
      const rows = await db.selectFrom('apps').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map((row) => toApp(row, keyring));
    },

    async updateApp(id, patch) {
      return inTransaction(db, async (trx) => {
        const row = await trx.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) return null;
        const current = toApp(row, keyring);
        const next: DirectoryApp = {
          ...current,
          ...patch,
          provisioning: { ...current.provisioning, ...patch.provisioning },
          reconcile: mergeReconcileSettings(current.reconcile, patch.reconcile),
          auth: patch.auth ?? current.auth,
          // null clears the app's own batch size: the profile's applies again.
          membershipBatchSize:
            patch.membershipBatchSize === null
              ? undefined
              : (patch.membershipBatchSize ?? current.membershipBatchSize),
          // "profile" clears the app's own rate limit (null is no limit at all).
          rateLimit:
            patch.rateLimit === 'profile'
              ? undefined
              : patch.rateLimit === undefined
                ? current.rateLimit
                : patch.rateLimit,
          updatedAt: now(),
        };
        const { id: _id, auth: _a, createdAt: _c, updatedAt, ...settings } = next;
        // Credentials are sealed again only when new ones come: unchanged, the stored value stays as it is (also
        // when its key is not configured, so a settings change never loses them).
        await trx
          .updateTable('apps')
          .set({
            settings: JSON.stringify(settings),
            ...(patch.auth ? { auth: sealCredentials(keyring, id, patch.auth) } : {}),
            updated_at: updatedAt,
          })
          .where('id', '=', id)
          .execute();
        return next;
      });
    },

    async deleteApp(id) {
      return deleted(await db.deleteFrom('apps').where('id', '=', id).executeTakeFirst());
    },

    async appPermissionKeys(appId) {
      const rows = await db
        .selectFrom('app_permissions')
        .select('permission_key')
        .where('app_id', '=', appId)
        .orderBy('permission_key')
        .execute();
      return rows.map((row) => row.permission_key);
    },

    async setAppPermissionKeys(appId, keys) {
      await inTransaction(db, async (trx) => {
        const unique = [...new Set(keys)];
        await assertExist(trx, 'permission', unique);
        await trx.deleteFrom('app_permissions').where('app_id', '=', appId).execute();
        for (const slice of slices(unique)) {
          await trx
            .insertInto('app_permissions')
            .values(slice.map((key) => ({ app_id: appId, permission_key: key })))
            .execute();
        }
      });
    },
  };
}
