import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Transaction } from 'kysely';
import { DuplicateError, UnknownReferenceError } from '../errors';
import type {
  AppInput,
  AppPatch,
  DirectoryApp,
  DirectoryGroup,
  DirectoryUser,
  EffectiveAccess,
  GroupInput,
  GroupPatch,
  Permission,
  PermissionInput,
  ReconciliationReport,
  RemoteLink,
  ResourceType,
  Role,
  RoleInput,
  RolePatch,
  UserAttributes,
  UserPatch,
} from '../model';
import { mergeReconcileSettings } from '../model';
import type {
  DirectoryStore,
  GroupUpdate,
  LinkUpdate,
  NewOperation,
  NewReconciliation,
  OperationRecord,
  Page,
  PageRequest,
  ReconciliationAction,
  ReconciliationItem,
  ReconciliationItemFilter,
  ReconciliationItemState,
  ReconciliationRecord,
} from '../store';
import { migrations } from './migrations';

interface Tables {
  users: {
    id: string;
    user_name: string;
    user_name_key: string;
    attributes: string;
    created_at: string;
    updated_at: string;
  };
  groups: {
    id: string;
    display_name: string;
    display_name_key: string;
    created_at: string;
    updated_at: string;
  };
  group_members: { group_id: string; user_id: string };
  apps: { id: string; settings: string; auth: string; created_at: string; updated_at: string };
  app_groups: { app_id: string; group_id: string };
  remote_links: {
    app_id: string;
    resource_type: string;
    local_id: string;
    remote_id: string | null;
    last_pushed: string | null;
    status: string;
    last_error: string | null;
    updated_at: string;
  };
  remote_memberships: { app_id: string; group_id: string; user_id: string };
  permissions: { key: string; description: string | null; created_at: string };
  roles: { id: string; name: string; name_key: string; created_at: string; updated_at: string };
  role_permissions: { role_id: string; permission_key: string };
  role_groups: { role_id: string; group_id: string };
  app_permissions: { app_id: string; permission_key: string };
  reconciliations: {
    workflow_id: string;
    app_id: string;
    status: string;
    dry_run: number;
    confirm_deletions: number;
    started_at: string;
    finished_at: string | null;
    report: string | null;
    progress: string | null;
  };
  reconciliation_items: {
    workflow_id: string;
    resource_type: string;
    key: string;
    local_id: string | null;
    remote_id: string | null;
    name: string;
    action: string;
    state: string;
    detail: string | null;
    error: string | null;
    remote: string | null;
  };
  operations: {
    sequence: number | undefined;
    workflow_id: string | null;
    app_id: string;
    intent: string;
    resource_type: string;
    resource_id: string;
    lane_id: string;
    request: string;
    issued_at: string;
    dispatched_at: string | null;
  };
}

type Db = Kysely<Tables> | Transaction<Tables>;
type UserRow = Tables['users'];
type AppRow = Tables['apps'];
type LinkRow = Tables['remote_links'];

const now = () => new Date().toISOString();
/** userName and displayName are unique ignoring case (RFC 7643 §4.1.1: userName is case-insensitive). */
const uniquenessKey = (value: string) => value.trim().toLowerCase();
/** SQLite caps bound parameters per statement; large id lists are queried in slices. */
const SQL_SLICE = 500;

function slices<T>(items: T[], size = SQL_SLICE): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

// Checked by code, not `instanceof`: the native module's errors may come from another realm (e.g. under jest).
function isUniqueViolation(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

function isPrimaryKeyViolation(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

function toPermission(row: Tables['permissions']): Permission {
  return {
    key: row.key,
    ...(row.description !== null ? { description: row.description } : {}),
    createdAt: row.created_at,
  };
}

function toUser(row: UserRow): DirectoryUser {
  return { id: row.id, ...JSON.parse(row.attributes), createdAt: row.created_at, updatedAt: row.updated_at };
}

function toApp(row: AppRow): DirectoryApp {
  return {
    id: row.id,
    ...JSON.parse(row.settings),
    auth: JSON.parse(row.auth),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toOperation(row: Tables['operations']): OperationRecord {
  return {
    sequence: Number(row.sequence),
    workflowId: row.workflow_id ?? '',
    appId: row.app_id,
    intent: row.intent,
    resourceType: row.resource_type as OperationRecord['resourceType'],
    resourceId: row.resource_id,
    laneId: row.lane_id,
    request: JSON.parse(row.request),
    issuedAt: row.issued_at,
    dispatchedAt: row.dispatched_at,
  };
}

function toReconciliation(row: Tables['reconciliations']): ReconciliationRecord {
  return {
    workflowId: row.workflow_id,
    appId: row.app_id,
    status: row.status as ReconciliationRecord['status'],
    dryRun: row.dry_run === 1,
    confirmDeletions: row.confirm_deletions === 1,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    report: row.report ? (JSON.parse(row.report) as ReconciliationReport) : null,
    progress: row.progress ? JSON.parse(row.progress) : null,
  };
}

function toReconciliationItem(row: Tables['reconciliation_items']): ReconciliationItem {
  return {
    resourceType: row.resource_type as ResourceType,
    key: row.key,
    localId: row.local_id,
    remoteId: row.remote_id,
    name: row.name,
    action: row.action as ReconciliationAction,
    state: row.state as ReconciliationItemState,
    detail: row.detail,
    error: row.error,
    remote: row.remote ? JSON.parse(row.remote) : null,
  };
}

function toLink(row: LinkRow): RemoteLink {
  return {
    appId: row.app_id,
    resourceType: row.resource_type as ResourceType,
    localId: row.local_id,
    remoteId: row.remote_id,
    lastPushed: row.last_pushed ? JSON.parse(row.last_pushed) : null,
    status: row.status as RemoteLink['status'],
    lastError: row.last_error,
    updatedAt: row.updated_at,
  };
}

/** The default directory store: one SQLite file (WAL), shared by the API and the worker on one host. */
export class SqliteDirectoryStore implements DirectoryStore {
  private constructor(private readonly db: Kysely<Tables>) {}

  static async open(file: string): Promise<SqliteDirectoryStore> {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const database = new Database(file);
    database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    // The API and the worker may be separate processes writing the same file.
    database.pragma('busy_timeout = 5000');
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const { error } = await migrator.migrateToLatest();
    if (error) throw new Error(`directory migration failed: ${String(error)}`);
    return new SqliteDirectoryStore(db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  // ── users ──────────────────────────────────────────────────────────────────────────────────────

  async createUser(attributes: UserAttributes): Promise<DirectoryUser> {
    const timestamp = now();
    const id = randomUUID();
    try {
      await this.db
        .insertInto('users')
        .values({
          id,
          user_name: attributes.userName,
          user_name_key: uniquenessKey(attributes.userName),
          attributes: JSON.stringify(attributes),
          created_at: timestamp,
          updated_at: timestamp,
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateError('user', 'userName', attributes.userName);
      throw error;
    }
    return { id, ...attributes, createdAt: timestamp, updatedAt: timestamp };
  }

  async getUser(id: string): Promise<DirectoryUser | null> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async getUsers(ids: string[]): Promise<DirectoryUser[]> {
    const users: DirectoryUser[] = [];
    for (const slice of slices([...new Set(ids)])) {
      const rows = await this.db.selectFrom('users').selectAll().where('id', 'in', slice).execute();
      users.push(...rows.map(toUser));
    }
    return users;
  }

  async findUserByUserName(userName: string): Promise<DirectoryUser | null> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('user_name_key', '=', uniquenessKey(userName))
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async listUsers({ offset, limit }: PageRequest): Promise<Page<DirectoryUser>> {
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .offset(offset)
      .execute();
    const { total } = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .executeTakeFirstOrThrow();
    return { items: rows.map(toUser), total: Number(total) };
  }

  async updateUser(
    id: string,
    patch: UserPatch,
  ): Promise<{ before: DirectoryUser; after: DirectoryUser } | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      const before = toUser(row);
      const { id: _id, createdAt: _c, updatedAt: _u, ...current } = before;
      const attributes: UserAttributes = { ...current, ...patch };
      const updatedAt = now();
      try {
        await trx
          .updateTable('users')
          .set({
            user_name: attributes.userName,
            user_name_key: uniquenessKey(attributes.userName),
            attributes: JSON.stringify(attributes),
            updated_at: updatedAt,
          })
          .where('id', '=', id)
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateError('user', 'userName', attributes.userName);
        throw error;
      }
      return { before, after: { id, ...attributes, createdAt: before.createdAt, updatedAt } };
    });
  }

  async deleteUser(id: string): Promise<DirectoryUser | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      await trx.deleteFrom('users').where('id', '=', id).execute();
      return toUser(row);
    });
  }

  // ── groups ─────────────────────────────────────────────────────────────────────────────────────

  async createGroup(input: GroupInput): Promise<DirectoryGroup> {
    const id = randomUUID();
    const timestamp = now();
    const memberIds = [...new Set(input.memberIds ?? [])];
    await this.db.transaction().execute(async (trx) => {
      await this.assertExist(trx, 'user', memberIds);
      try {
        await trx
          .insertInto('groups')
          .values({
            id,
            display_name: input.displayName,
            display_name_key: uniquenessKey(input.displayName),
            created_at: timestamp,
            updated_at: timestamp,
          })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateError('group', 'displayName', input.displayName);
        throw error;
      }
      for (const slice of slices(memberIds)) {
        await trx
          .insertInto('group_members')
          .values(slice.map((userId) => ({ group_id: id, user_id: userId })))
          .execute();
      }
    });
    return { id, displayName: input.displayName, memberIds, createdAt: timestamp, updatedAt: timestamp };
  }

  async getGroup(id: string): Promise<DirectoryGroup | null> {
    return this.readGroup(this.db, id);
  }

  async findGroupByDisplayName(displayName: string): Promise<DirectoryGroup | null> {
    const row = await this.db
      .selectFrom('groups')
      .select('id')
      .where('display_name_key', '=', uniquenessKey(displayName))
      .executeTakeFirst();
    return row ? this.readGroup(this.db, row.id) : null;
  }

  async listGroups({ offset, limit }: PageRequest): Promise<Page<DirectoryGroup>> {
    const rows = await this.db
      .selectFrom('groups')
      .select('id')
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .offset(offset)
      .execute();
    const items: DirectoryGroup[] = [];
    for (const row of rows) {
      const group = await this.readGroup(this.db, row.id);
      if (group) items.push(group);
    }
    const { total } = await this.db
      .selectFrom('groups')
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .executeTakeFirstOrThrow();
    return { items, total: Number(total) };
  }

  async updateGroup(id: string, patch: GroupPatch): Promise<GroupUpdate | null> {
    return this.db.transaction().execute(async (trx) => {
      const group = await this.readGroup(trx, id);
      if (!group) return null;
      const renamed = patch.displayName !== undefined && patch.displayName !== group.displayName;
      if (renamed) {
        const displayName = patch.displayName as string;
        try {
          await trx
            .updateTable('groups')
            .set({ display_name: displayName, display_name_key: uniquenessKey(displayName) })
            .where('id', '=', id)
            .execute();
        } catch (error) {
          if (isUniqueViolation(error)) throw new DuplicateError('group', 'displayName', displayName);
          throw error;
        }
      }
      let added: string[] = [];
      let removed: string[] = [];
      if (patch.memberIds) {
        const desired = [...new Set(patch.memberIds)];
        await this.assertExist(trx, 'user', desired);
        const current = new Set(group.memberIds);
        const wanted = new Set(desired);
        added = desired.filter((userId) => !current.has(userId));
        removed = group.memberIds.filter((userId) => !wanted.has(userId));
        for (const slice of slices(added)) {
          await trx
            .insertInto('group_members')
            .values(slice.map((userId) => ({ group_id: id, user_id: userId })))
            .execute();
        }
        for (const slice of slices(removed)) {
          await trx
            .deleteFrom('group_members')
            .where('group_id', '=', id)
            .where('user_id', 'in', slice)
            .execute();
        }
      }
      if (renamed || added.length || removed.length) {
        await trx.updateTable('groups').set({ updated_at: now() }).where('id', '=', id).execute();
      }
      const updated = await this.readGroup(trx, id);
      return { group: updated as DirectoryGroup, renamed, added, removed };
    });
  }

  async addGroupMember(groupId: string, userId: string): Promise<boolean> {
    const result = await this.db
      .insertInto('group_members')
      .values({ group_id: groupId, user_id: userId })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async removeGroupMember(groupId: string, userId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('group_members')
      .where('group_id', '=', groupId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async deleteGroup(id: string): Promise<DirectoryGroup | null> {
    return this.db.transaction().execute(async (trx) => {
      const group = await this.readGroup(trx, id);
      if (!group) return null;
      await trx.deleteFrom('groups').where('id', '=', id).execute();
      return group;
    });
  }

  async groupIdsOfUser(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('group_members')
      .select('group_id')
      .where('user_id', '=', userId)
      .execute();
    return rows.map((row) => row.group_id);
  }

  // ── apps ───────────────────────────────────────────────────────────────────────────────────────

  async createApp(input: AppInput): Promise<DirectoryApp> {
    const id = randomUUID();
    const timestamp = now();
    const { auth, ...settings } = input;
    await this.db
      .insertInto('apps')
      .values({
        id,
        settings: JSON.stringify(settings),
        auth: JSON.stringify(auth),
        created_at: timestamp,
        updated_at: timestamp,
      })
      .execute();
    return { id, ...input, createdAt: timestamp, updatedAt: timestamp };
  }

  async getApp(id: string): Promise<DirectoryApp | null> {
    const row = await this.db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toApp(row) : null;
  }

  async listApps(): Promise<DirectoryApp[]> {
    const rows = await this.db.selectFrom('apps').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toApp);
  }

  async updateApp(id: string, patch: AppPatch): Promise<DirectoryApp | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      const current = toApp(row);
      const next: DirectoryApp = {
        ...current,
        ...patch,
        provisioning: { ...current.provisioning, ...patch.provisioning },
        reconcile: mergeReconcileSettings(current.reconcile, patch.reconcile),
        auth: patch.auth ?? current.auth,
        updatedAt: now(),
      };
      const { id: _id, auth, createdAt: _c, updatedAt, ...settings } = next;
      await trx
        .updateTable('apps')
        .set({ settings: JSON.stringify(settings), auth: JSON.stringify(auth), updated_at: updatedAt })
        .where('id', '=', id)
        .execute();
      return next;
    });
  }

  async deleteApp(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('apps').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async assignGroup(appId: string, groupId: string): Promise<boolean> {
    const result = await this.db
      .insertInto('app_groups')
      .values({ app_id: appId, group_id: groupId })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async unassignGroup(appId: string, groupId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('app_groups')
      .where('app_id', '=', appId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async assignedGroupIds(appId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_groups')
      .select('group_id')
      .where('app_id', '=', appId)
      .execute();
    return rows.map((row) => row.group_id);
  }

  async appIdsAssignedGroup(groupId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_groups')
      .select('app_id')
      .where('group_id', '=', groupId)
      .execute();
    return rows.map((row) => row.app_id);
  }

  async appIdsHoldingUser(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_groups')
      .innerJoin('group_members', 'group_members.group_id', 'app_groups.group_id')
      .select('app_groups.app_id')
      .distinct()
      .where('group_members.user_id', '=', userId)
      .execute();
    return rows.map((row) => row.app_id);
  }

  async assignedGroupIdsOfUser(appId: string, userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_groups')
      .innerJoin('group_members', 'group_members.group_id', 'app_groups.group_id')
      .select('app_groups.group_id')
      .where('app_groups.app_id', '=', appId)
      .where('group_members.user_id', '=', userId)
      .execute();
    return rows.map((row) => row.group_id);
  }

  // ── remote links and memberships ───────────────────────────────────────────────────────────────

  async getLink(appId: string, resourceType: ResourceType, localId: string): Promise<RemoteLink | null> {
    const row = await this.db
      .selectFrom('remote_links')
      .selectAll()
      .where('app_id', '=', appId)
      .where('resource_type', '=', resourceType)
      .where('local_id', '=', localId)
      .executeTakeFirst();
    return row ? toLink(row) : null;
  }

  async getLinks(appId: string, resourceType: ResourceType, localIds: string[]): Promise<RemoteLink[]> {
    const links: RemoteLink[] = [];
    for (const slice of slices([...new Set(localIds)])) {
      const rows = await this.db
        .selectFrom('remote_links')
        .selectAll()
        .where('app_id', '=', appId)
        .where('resource_type', '=', resourceType)
        .where('local_id', 'in', slice)
        .execute();
      links.push(...rows.map(toLink));
    }
    return links;
  }

  async listLinks(appId: string): Promise<RemoteLink[]> {
    const rows = await this.db
      .selectFrom('remote_links')
      .selectAll()
      .where('app_id', '=', appId)
      .orderBy('resource_type')
      .orderBy('updated_at')
      .execute();
    return rows.map(toLink);
  }

  async saveLink(update: LinkUpdate): Promise<RemoteLink> {
    const row: LinkRow = {
      app_id: update.appId,
      resource_type: update.resourceType,
      local_id: update.localId,
      remote_id: update.remoteId ?? null,
      last_pushed: update.lastPushed ? JSON.stringify(update.lastPushed) : null,
      status: update.status,
      last_error: update.lastError ?? null,
      updated_at: now(),
    };
    const changes: Partial<LinkRow> = { updated_at: row.updated_at };
    if (update.remoteId !== undefined) changes.remote_id = row.remote_id;
    if (update.lastPushed !== undefined) changes.last_pushed = row.last_pushed;
    changes.status = row.status;
    if (update.lastError !== undefined) changes.last_error = row.last_error;
    await this.db
      .insertInto('remote_links')
      .values(row)
      .onConflict((oc) => oc.columns(['app_id', 'resource_type', 'local_id']).doUpdateSet(changes))
      .execute();
    const saved = await this.getLink(update.appId, update.resourceType, update.localId);
    if (!saved) throw new Error('remote link vanished while being saved');
    return saved;
  }

  async deleteLink(appId: string, resourceType: ResourceType, localId: string): Promise<void> {
    await this.db
      .deleteFrom('remote_links')
      .where('app_id', '=', appId)
      .where('resource_type', '=', resourceType)
      .where('local_id', '=', localId)
      .execute();
  }

  async remoteMemberIds(appId: string, groupId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('remote_memberships')
      .select('user_id')
      .where('app_id', '=', appId)
      .where('group_id', '=', groupId)
      .execute();
    return rows.map((row) => row.user_id);
  }

  async addRemoteMembers(appId: string, groupId: string, userIds: string[]): Promise<void> {
    for (const slice of slices(userIds)) {
      await this.db
        .insertInto('remote_memberships')
        .values(slice.map((userId) => ({ app_id: appId, group_id: groupId, user_id: userId })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }

  async removeRemoteMembers(appId: string, groupId: string, userIds: string[]): Promise<void> {
    for (const slice of slices(userIds)) {
      await this.db
        .deleteFrom('remote_memberships')
        .where('app_id', '=', appId)
        .where('group_id', '=', groupId)
        .where('user_id', 'in', slice)
        .execute();
    }
  }

  async remoteGroupIdsOfUser(appId: string, userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('remote_memberships')
      .select('group_id')
      .where('app_id', '=', appId)
      .where('user_id', '=', userId)
      .execute();
    return rows.map((row) => row.group_id);
  }

  async forgetRemoteMembershipsOfUser(appId: string, userId: string): Promise<void> {
    await this.db
      .deleteFrom('remote_memberships')
      .where('app_id', '=', appId)
      .where('user_id', '=', userId)
      .execute();
  }

  async forgetRemoteMembershipsOfGroup(appId: string, groupId: string): Promise<void> {
    await this.db
      .deleteFrom('remote_memberships')
      .where('app_id', '=', appId)
      .where('group_id', '=', groupId)
      .execute();
  }

  // ── operations ─────────────────────────────────────────────────────────────────────────────────

  async recordOperation(
    operation: NewOperation,
    build: (sequence: number) => { workflowId: string; request: unknown },
  ): Promise<OperationRecord> {
    return this.db.transaction().execute(async (trx) => {
      const issuedAt = now();
      const { sequence } = await trx
        .insertInto('operations')
        .values({
          sequence: undefined,
          workflow_id: null,
          app_id: operation.appId,
          intent: operation.intent,
          resource_type: operation.resourceType,
          resource_id: operation.resourceId,
          lane_id: operation.laneId,
          request: 'null',
          issued_at: issuedAt,
          dispatched_at: null,
        })
        .returning('sequence')
        .executeTakeFirstOrThrow();
      const { workflowId, request } = build(Number(sequence));
      await trx
        .updateTable('operations')
        .set({ workflow_id: workflowId, request: JSON.stringify(request) })
        .where('sequence', '=', Number(sequence))
        .execute();
      return { ...operation, sequence: Number(sequence), workflowId, request, issuedAt, dispatchedAt: null };
    });
  }

  async markOperationDispatched(workflowId: string): Promise<void> {
    await this.db
      .updateTable('operations')
      .set({ dispatched_at: now() })
      .where('workflow_id', '=', workflowId)
      .execute();
  }

  async undispatchedOperations(limit: number, issuedBefore: Date): Promise<OperationRecord[]> {
    const rows = await this.db
      .selectFrom('operations')
      .selectAll()
      .where('dispatched_at', 'is', null)
      .where('issued_at', '<', issuedBefore.toISOString())
      .orderBy('sequence')
      .limit(limit)
      .execute();
    return rows.map(toOperation);
  }

  async hasUndispatchedBefore(laneId: string, sequence: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('operations')
      .select('sequence')
      .where('dispatched_at', 'is', null)
      .where('lane_id', '=', laneId)
      .where('sequence', '<', sequence)
      .executeTakeFirst();
    return row !== undefined;
  }

  async getOperation(workflowId: string): Promise<OperationRecord | null> {
    const row = await this.db
      .selectFrom('operations')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .executeTakeFirst();
    return row ? toOperation(row) : null;
  }

  // ── permissions and roles ──────────────────────────────────────────────────────────────────────

  async createPermission(input: PermissionInput): Promise<Permission> {
    const createdAt = now();
    try {
      await this.db
        .insertInto('permissions')
        .values({ key: input.key, description: input.description ?? null, created_at: createdAt })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error) || isPrimaryKeyViolation(error)) {
        throw new DuplicateError('permission', 'key', input.key);
      }
      throw error;
    }
    return { ...input, createdAt };
  }

  async listPermissions(): Promise<Permission[]> {
    const rows = await this.db.selectFrom('permissions').selectAll().orderBy('key').execute();
    return rows.map(toPermission);
  }

  async getPermission(key: string): Promise<Permission | null> {
    const row = await this.db.selectFrom('permissions').selectAll().where('key', '=', key).executeTakeFirst();
    return row ? toPermission(row) : null;
  }

  async deletePermission(key: string): Promise<{ roleIds: string[] } | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('permissions').select('key').where('key', '=', key).executeTakeFirst();
      if (!row) return null;
      const holders = await trx
        .selectFrom('role_permissions')
        .select('role_id')
        .where('permission_key', '=', key)
        .execute();
      await trx.deleteFrom('permissions').where('key', '=', key).execute();
      return { roleIds: holders.map((holder) => holder.role_id) };
    });
  }

  async createRole(input: RoleInput): Promise<Role> {
    const id = randomUUID();
    const timestamp = now();
    const permissionKeys = [...new Set(input.permissionKeys ?? [])];
    const groupIds = [...new Set(input.groupIds ?? [])];
    await this.db.transaction().execute(async (trx) => {
      await this.assertExist(trx, 'permission', permissionKeys);
      await this.assertExist(trx, 'group', groupIds);
      try {
        await trx
          .insertInto('roles')
          .values({
            id,
            name: input.name,
            name_key: uniquenessKey(input.name),
            created_at: timestamp,
            updated_at: timestamp,
          })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateError('role', 'name', input.name);
        throw error;
      }
      for (const slice of slices(permissionKeys)) {
        await trx
          .insertInto('role_permissions')
          .values(slice.map((key) => ({ role_id: id, permission_key: key })))
          .execute();
      }
      for (const slice of slices(groupIds)) {
        await trx
          .insertInto('role_groups')
          .values(slice.map((groupId) => ({ role_id: id, group_id: groupId })))
          .execute();
      }
    });
    return { id, name: input.name, permissionKeys, groupIds, createdAt: timestamp, updatedAt: timestamp };
  }

  async getRole(id: string): Promise<Role | null> {
    return this.readRole(this.db, id);
  }

  async listRoles(): Promise<Role[]> {
    const rows = await this.db.selectFrom('roles').select('id').orderBy('created_at').orderBy('id').execute();
    const roles: Role[] = [];
    for (const row of rows) {
      const role = await this.readRole(this.db, row.id);
      if (role) roles.push(role);
    }
    return roles;
  }

  async updateRole(id: string, patch: RolePatch): Promise<Role | null> {
    return this.db.transaction().execute(async (trx) => {
      const role = await this.readRole(trx, id);
      if (!role) return null;
      if (patch.name !== undefined && patch.name !== role.name) {
        try {
          await trx
            .updateTable('roles')
            .set({ name: patch.name, name_key: uniquenessKey(patch.name) })
            .where('id', '=', id)
            .execute();
        } catch (error) {
          if (isUniqueViolation(error)) throw new DuplicateError('role', 'name', patch.name);
          throw error;
        }
      }
      if (patch.permissionKeys) {
        const keys = [...new Set(patch.permissionKeys)];
        await this.assertExist(trx, 'permission', keys);
        await trx.deleteFrom('role_permissions').where('role_id', '=', id).execute();
        for (const slice of slices(keys)) {
          await trx
            .insertInto('role_permissions')
            .values(slice.map((key) => ({ role_id: id, permission_key: key })))
            .execute();
        }
      }
      await trx.updateTable('roles').set({ updated_at: now() }).where('id', '=', id).execute();
      return this.readRole(trx, id);
    });
  }

  async deleteRole(id: string): Promise<Role | null> {
    return this.db.transaction().execute(async (trx) => {
      const role = await this.readRole(trx, id);
      if (!role) return null;
      await trx.deleteFrom('roles').where('id', '=', id).execute();
      return role;
    });
  }

  async assignRoleToGroup(roleId: string, groupId: string): Promise<boolean> {
    const result = await this.db
      .insertInto('role_groups')
      .values({ role_id: roleId, group_id: groupId })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async unassignRoleFromGroup(roleId: string, groupId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('role_groups')
      .where('role_id', '=', roleId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async userIdsHoldingRoles(roleIds: string[]): Promise<string[]> {
    const userIds = new Set<string>();
    for (const slice of slices([...new Set(roleIds)])) {
      const rows = await this.db
        .selectFrom('role_groups')
        .innerJoin('group_members', 'group_members.group_id', 'role_groups.group_id')
        .select('group_members.user_id')
        .distinct()
        .where('role_groups.role_id', 'in', slice)
        .execute();
      rows.forEach((row) => userIds.add(row.user_id));
    }
    return [...userIds];
  }

  async effectiveAccess(userIds: string[]): Promise<Map<string, EffectiveAccess>> {
    const access = new Map<string, { roles: Set<string>; permissions: Set<string> }>();
    for (const userId of userIds) access.set(userId, { roles: new Set(), permissions: new Set() });
    for (const slice of slices([...new Set(userIds)])) {
      const rows = await this.db
        .selectFrom('group_members')
        .innerJoin('role_groups', 'role_groups.group_id', 'group_members.group_id')
        .innerJoin('roles', 'roles.id', 'role_groups.role_id')
        .leftJoin('role_permissions', 'role_permissions.role_id', 'roles.id')
        .select(['group_members.user_id', 'roles.name', 'role_permissions.permission_key'])
        .where('group_members.user_id', 'in', slice)
        .execute();
      for (const row of rows) {
        const entry = access.get(row.user_id);
        entry?.roles.add(row.name);
        if (row.permission_key) entry?.permissions.add(row.permission_key);
      }
    }
    return new Map(
      [...access].map(([userId, entry]) => [
        userId,
        { roles: [...entry.roles].sort(), permissions: [...entry.permissions].sort() },
      ]),
    );
  }

  async appPermissionKeys(appId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_permissions')
      .select('permission_key')
      .where('app_id', '=', appId)
      .orderBy('permission_key')
      .execute();
    return rows.map((row) => row.permission_key);
  }

  async setAppPermissionKeys(appId: string, keys: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const unique = [...new Set(keys)];
      await this.assertExist(trx, 'permission', unique);
      await trx.deleteFrom('app_permissions').where('app_id', '=', appId).execute();
      for (const slice of slices(unique)) {
        await trx
          .insertInto('app_permissions')
          .values(slice.map((key) => ({ app_id: appId, permission_key: key })))
          .execute();
      }
    });
  }

  async userIdsHeldByApp(appId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('app_groups')
      .innerJoin('group_members', 'group_members.group_id', 'app_groups.group_id')
      .select('group_members.user_id')
      .distinct()
      .where('app_groups.app_id', '=', appId)
      .execute();
    return rows.map((row) => row.user_id);
  }

  // ── reconciliation ─────────────────────────────────────────────────────────────────────────────

  async beginReconciliation(run: NewReconciliation): Promise<ReconciliationRecord> {
    await this.db
      .insertInto('reconciliations')
      .values({
        workflow_id: run.workflowId,
        app_id: run.appId,
        status: 'running',
        dry_run: run.dryRun ? 1 : 0,
        confirm_deletions: run.confirmDeletions ? 1 : 0,
        started_at: now(),
        finished_at: null,
        report: null,
        progress: null,
      })
      .onConflict((oc) => oc.column('workflow_id').doNothing())
      .execute();
    return (await this.getReconciliation(run.workflowId)) as ReconciliationRecord;
  }

  async getReconciliation(workflowId: string): Promise<ReconciliationRecord | null> {
    const row = await this.db
      .selectFrom('reconciliations')
      .selectAll()
      .where('workflow_id', '=', workflowId)
      .executeTakeFirst();
    return row ? toReconciliation(row) : null;
  }

  async listReconciliations(appId: string, limit: number): Promise<ReconciliationRecord[]> {
    const rows = await this.db
      .selectFrom('reconciliations')
      .selectAll()
      .where('app_id', '=', appId)
      .orderBy('started_at', 'desc')
      .orderBy('workflow_id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toReconciliation);
  }

  async updateReconciliation(
    workflowId: string,
    changes: Partial<Pick<ReconciliationRecord, 'status' | 'report' | 'progress' | 'finishedAt'>>,
  ): Promise<void> {
    const set: Partial<Tables['reconciliations']> = {};
    if (changes.status !== undefined) set.status = changes.status;
    if (changes.report !== undefined) set.report = changes.report ? JSON.stringify(changes.report) : null;
    if (changes.progress !== undefined) set.progress = JSON.stringify(changes.progress);
    if (changes.finishedAt !== undefined) set.finished_at = changes.finishedAt;
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable('reconciliations').set(set).where('workflow_id', '=', workflowId).execute();
  }

  async saveReconciliationItems(
    workflowId: string,
    items: ReconciliationItem[],
    progress?: unknown,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // 11 columns per row: stay well under SQLite's bound-parameter limit.
      for (const slice of slices(items, 80)) {
        await trx
          .insertInto('reconciliation_items')
          .values(
            slice.map((item) => ({
              workflow_id: workflowId,
              resource_type: item.resourceType,
              key: item.key,
              local_id: item.localId,
              remote_id: item.remoteId,
              name: item.name,
              action: item.action,
              state: item.state,
              detail: item.detail,
              error: item.error,
              remote: item.remote ? JSON.stringify(item.remote) : null,
            })),
          )
          .onConflict((oc) =>
            oc.columns(['workflow_id', 'resource_type', 'key']).doUpdateSet((eb) => ({
              local_id: eb.ref('excluded.local_id'),
              remote_id: eb.ref('excluded.remote_id'),
              name: eb.ref('excluded.name'),
              action: eb.ref('excluded.action'),
              state: eb.ref('excluded.state'),
              detail: eb.ref('excluded.detail'),
              error: eb.ref('excluded.error'),
              remote: eb.ref('excluded.remote'),
            })),
          )
          .execute();
      }
      if (progress !== undefined) {
        await trx
          .updateTable('reconciliations')
          .set({ progress: JSON.stringify(progress) })
          .where('workflow_id', '=', workflowId)
          .execute();
      }
    });
  }

  async reconciliationItems(
    workflowId: string,
    filter: ReconciliationItemFilter,
  ): Promise<ReconciliationItem[]> {
    let query = this.db.selectFrom('reconciliation_items').selectAll().where('workflow_id', '=', workflowId);
    if (filter.resourceType) query = query.where('resource_type', '=', filter.resourceType);
    if (filter.keyPrefix) {
      // substr, not LIKE: remote ids may hold LIKE's wildcards.
      const prefix = filter.keyPrefix;
      query = query.where((eb) =>
        eb(eb.fn('substr', ['key', eb.lit(1), eb.lit(prefix.length)]), '=', prefix),
      );
    }
    if (filter.actions) query = query.where('action', 'in', filter.actions);
    if (filter.state) query = query.where('state', '=', filter.state);
    if (filter.afterKey !== undefined) query = query.where('key', '>', filter.afterKey);
    const rows = await query.orderBy('resource_type').orderBy('key').limit(filter.limit).execute();
    return rows.map(toReconciliationItem);
  }

  async reconciliationItemCounts(
    workflowId: string,
  ): Promise<{ action: ReconciliationAction; state: ReconciliationItemState; count: number }[]> {
    const rows = await this.db
      .selectFrom('reconciliation_items')
      .select(['action', 'state', (eb) => eb.fn.countAll<number>().as('count')])
      .where('workflow_id', '=', workflowId)
      .groupBy(['action', 'state'])
      .execute();
    return rows.map((row) => ({
      action: row.action as ReconciliationAction,
      state: row.state as ReconciliationItemState,
      count: Number(row.count),
    }));
  }

  async clearReconciliationItems(workflowId: string): Promise<void> {
    await this.db.deleteFrom('reconciliation_items').where('workflow_id', '=', workflowId).execute();
  }

  async undispatchedResourceIds(appId: string): Promise<{ resourceType: string; resourceId: string }[]> {
    return this.db
      .selectFrom('operations')
      .select(['resource_type as resourceType', 'resource_id as resourceId'])
      .distinct()
      .where('app_id', '=', appId)
      .where('dispatched_at', 'is', null)
      .execute();
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────────────

  private async readGroup(db: Db, id: string): Promise<DirectoryGroup | null> {
    const row = await db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const members = await db
      .selectFrom('group_members')
      .select('user_id')
      .where('group_id', '=', id)
      .execute();
    return {
      id: row.id,
      displayName: row.display_name,
      memberIds: members.map((member) => member.user_id),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  private async readRole(db: Db, id: string): Promise<Role | null> {
    const row = await db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const permissions = await db
      .selectFrom('role_permissions')
      .select('permission_key')
      .where('role_id', '=', id)
      .orderBy('permission_key')
      .execute();
    const groups = await db.selectFrom('role_groups').select('group_id').where('role_id', '=', id).execute();
    return {
      id: row.id,
      name: row.name,
      permissionKeys: permissions.map((p) => p.permission_key),
      groupIds: groups.map((g) => g.group_id),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** All or nothing: a reference to a missing user, group or permission fails the whole change. */
  private async assertExist(db: Db, resource: 'user' | 'group' | 'permission', ids: string[]): Promise<void> {
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
}
