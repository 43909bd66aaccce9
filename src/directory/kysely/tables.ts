import type { Kysely, Transaction } from 'kysely';

/**
 * The directory's tables as the queries see them, whatever the database. Values are what both SQLite and
 * PostgreSQL hold alike: ids and timestamps (ISO 8601) as text, JSON as text, flags as 0/1.
 * The schema itself is each dialect's migrations (`sqlite/migrations.ts`).
 */
export interface Tables {
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
  /** A membership PATCH that may be on the wire (see `LinkStore.markMemberWritesInFlight`). */
  member_writes_in_flight: { app_id: string; group_id: string; user_id: string };
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
    /** Numbered by the database on insert. */
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
    /** A delivery in flight holds the row until then (ISO 8601); null when no delivery is under way. */
    lease_until: string | null;
    delivery_attempts: number;
    last_delivery_error: string | null;
    /** When the dispatcher saw the intent's run closed (ISO 8601); null until a later intent of its lane asks. */
    closed_at: string | null;
  };
  /** An attribute of one object that the app derives, normalises or ignores (see `AppManagedStore`). */
  app_managed_attributes: {
    app_id: string;
    resource_type: string;
    local_id: string;
    attribute: string;
    reason: string;
    wanted: string;
    detected_at: string;
  };
  /** One request bucket shared by every process (see `RateLimitStore`); epoch milliseconds. */
  rate_limits: { bucket: string; next_slot_ms: number; paused_until_ms: number };
  /** Who is creating a user or group in an app right now (before its POST), until `expires_at`. */
  creation_claims: {
    app_id: string;
    resource_type: string;
    local_id: string;
    claimant: string;
    claimed_at: string;
    expires_at: string;
  };
}

/**
 * Where the queries run: the database, or a transaction already open on it. Every query module takes one, so that
 * a caller can run several of them (a change and the intents it issues) in one transaction.
 */
export type Db = Kysely<Tables> | Transaction<Tables>;

/**
 * Runs `work` in one transaction: a new one, or the caller's when `db` already is one (kysely does not nest
 * transactions; the caller's commit or rollback then covers `work` too).
 */
export async function inTransaction<T>(db: Db, work: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db as Transaction<Tables>) : db.transaction().execute(work);
}
