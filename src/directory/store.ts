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
  ReconciliationStatus,
  RemoteLink,
  ResourceType,
  Role,
  RoleInput,
  RolePatch,
  UserAttributes,
  UserPatch,
} from './model';

export interface Page<T> {
  items: T[];
  total: number;
}

export interface PageRequest {
  offset: number;
  limit: number;
}

export interface GroupUpdate {
  group: DirectoryGroup;
  renamed: boolean;
  added: string[];
  removed: string[];
}

export interface OperationRecord {
  sequence: number;
  workflowId: string;
  appId: string;
  intent: string;
  /** `Roles` for the role and entitlement syncs of an app (resource id `roles`); `App` for its imports. */
  resourceType: ResourceType | 'Roles' | 'App';
  resourceId: string;
  /** Operations on the same lane must reach Temporal in sequence order. */
  laneId: string;
  /** What to hand to Temporal, opaque to the store. */
  request: unknown;
  issuedAt: string;
  dispatchedAt: string | null;
  /** When its run was seen closed; null until a later intent of its lane needed to know. */
  closedAt: string | null;
  /** Deliveries started so far, and why the last one that failed did. */
  deliveryAttempts: number;
  lastDeliveryError: string | null;
}

export type NewOperation = Pick<
  OperationRecord,
  'appId' | 'intent' | 'resourceType' | 'resourceId' | 'laneId'
>;

export type LinkUpdate = Pick<RemoteLink, 'appId' | 'resourceType' | 'localId' | 'status'> &
  Partial<Pick<RemoteLink, 'remoteId' | 'lastPushed' | 'lastError'>>;

/** The directory's people: users, unique by userName ignoring case. */
export interface UserStore {
  createUser(attributes: UserAttributes): Promise<DirectoryUser>;
  getUser(id: string): Promise<DirectoryUser | null>;
  getUsers(ids: string[]): Promise<DirectoryUser[]>;
  findUserByUserName(userName: string): Promise<DirectoryUser | null>;
  listUsers(page: PageRequest): Promise<Page<DirectoryUser>>;
  updateUser(id: string, patch: UserPatch): Promise<{ before: DirectoryUser; after: DirectoryUser } | null>;
  deleteUser(id: string): Promise<DirectoryUser | null>;
}

/** Groups and their members, unique by displayName ignoring case. */
export interface GroupStore {
  createGroup(input: GroupInput): Promise<DirectoryGroup>;
  getGroup(id: string): Promise<DirectoryGroup | null>;
  findGroupByDisplayName(displayName: string): Promise<DirectoryGroup | null>;
  listGroups(page: PageRequest): Promise<Page<DirectoryGroup>>;
  /** Renames and/or replaces the member list, all or nothing; answers which members were added and removed. */
  updateGroup(id: string, patch: GroupPatch): Promise<GroupUpdate | null>;
  addGroupMember(groupId: string, userId: string): Promise<boolean>;
  removeGroupMember(groupId: string, userId: string): Promise<boolean>;
  deleteGroup(id: string): Promise<DirectoryGroup | null>;
  groupIdsOfUser(userId: string): Promise<string[]>;
}

/** The apps scimflow provisions: their settings and credentials, and the permissions each may receive. */
export interface AppStore {
  createApp(input: AppInput): Promise<DirectoryApp>;
  getApp(id: string): Promise<DirectoryApp | null>;
  listApps(): Promise<DirectoryApp[]>;
  updateApp(id: string, patch: AppPatch): Promise<DirectoryApp | null>;
  deleteApp(id: string): Promise<boolean>;
  /** The permissions an app may receive as entitlements; none assigned means none sent. */
  appPermissionKeys(appId: string): Promise<string[]>;
  setAppPermissionKeys(appId: string, keys: string[]): Promise<void>;
}

/**
 * Which groups are assigned to which apps, and so whom each app holds: the facts the scope rules
 * (`directory/scope.ts`) and the intent planner read.
 */
export interface AssignmentStore {
  assignGroup(appId: string, groupId: string): Promise<boolean>;
  unassignGroup(appId: string, groupId: string): Promise<boolean>;
  assignedGroupIds(appId: string): Promise<string[]>;
  appIdsAssignedGroup(groupId: string): Promise<string[]>;
  /** Apps whose assigned groups hold the user (whatever the user's `active` flag). */
  appIdsHoldingUser(userId: string): Promise<string[]>;
  /** The app's assigned groups that the user belongs to. */
  assignedGroupIdsOfUser(appId: string, userId: string): Promise<string[]>;
  /** Users in the app's scope by membership (active or not): members of its assigned groups. */
  userIdsHeldByApp(appId: string): Promise<string[]>;
}

/** What was written to each app: remote links (directory id → remote id, last pushed) and remote memberships. */
export interface LinkStore {
  getLink(appId: string, resourceType: ResourceType, localId: string): Promise<RemoteLink | null>;
  getLinks(appId: string, resourceType: ResourceType, localIds: string[]): Promise<RemoteLink[]>;
  listLinks(appId: string): Promise<RemoteLink[]>;
  saveLink(update: LinkUpdate): Promise<RemoteLink>;
  deleteLink(appId: string, resourceType: ResourceType, localId: string): Promise<void>;

  /** Users the app's remote group is known to contain, as written by scimflow. */
  remoteMemberIds(appId: string, groupId: string): Promise<string[]>;
  addRemoteMembers(appId: string, groupId: string, userIds: string[]): Promise<void>;
  removeRemoteMembers(appId: string, groupId: string, userIds: string[]): Promise<void>;
  /** The app's groups that the remote user is known to be a member of. */
  remoteGroupIdsOfUser(appId: string, userId: string): Promise<string[]>;
  forgetRemoteMembershipsOfUser(appId: string, userId: string): Promise<void>;
  forgetRemoteMembershipsOfGroup(appId: string, groupId: string): Promise<void>;
  /**
   * Membership adds or removes about to be sent: until `settleMemberWrites`, the target may hold the member or not
   * (the process may die with the PATCH on the wire), whatever the record says; the join's retry or the group's
   * next sync settles it.
   */
  markMemberWritesInFlight(appId: string, groupId: string, userIds: string[]): Promise<void>;
  settleMemberWrites(appId: string, groupId: string, userIds: string[]): Promise<void>;
  /** Groups with a write of the user's membership possibly in flight. */
  memberWritesInFlightOfUser(appId: string, userId: string): Promise<string[]>;
  /** Users with a write of their membership of the group possibly in flight. */
  memberWritesInFlightToGroup(appId: string, groupId: string): Promise<string[]>;

  /**
   * Claims the right to create the object in the app (before its POST), so that whatever runs at once — an
   * intent, a group's bulk provisioning, a reconciliation, in any process — only one creates it. A claim lasts
   * `ttlMs`; the same claimant may take its own claim over at once. With `sibling`, a claim held by another
   * claimant that starts with `sibling.prefix` (another attempt of the same work, e.g. in a process that died) is
   * taken over once it is `sibling.quietMs` old: by then a POST that attempt had on the wire has landed or failed.
   */
  claimCreation(
    key: LinkKey,
    claimant: string,
    ttlMs: number,
    sibling?: { prefix: string; quietMs: number },
  ): Promise<CreationClaim>;
  /** Ends a claim (the object is linked by now, or the POST was refused for good); another claimant's is kept. */
  releaseCreationClaim(key: LinkKey, claimant: string): Promise<void>;
  /**
   * Lets anyone take the claim over now, looking the object up first: its POST was answered, so nothing of it is
   * still on its way to the app, but it may have created the object. Another claimant's claim is kept.
   */
  expireCreationClaim(key: LinkKey, claimant: string): Promise<void>;
  /** Whether someone claimed the object's creation and has not let go (live or expired): its POST may have landed. */
  hasCreationClaim(key: LinkKey): Promise<boolean>;
}

/** Which directory object, in which app. */
export interface LinkKey {
  appId: string;
  resourceType: ResourceType;
  localId: string;
}

export type CreationClaim =
  /** Yours to create. `lookFirst`: a claim was there before (an earlier attempt may have sent its POST, and its
   *  answer was lost), so look the object up before creating it. */
  | { outcome: 'claimed'; lookFirst: boolean }
  /** Created meanwhile by someone else: link to it, create nothing. */
  | { outcome: 'linked'; remoteId: string }
  /** Someone else is creating it now; try again after `expiresAt` at the latest. */
  | { outcome: 'busy'; claimant: string; expiresAt: string };

/**
 * The outbox of intents: every intent issued, numbered, recorded in the same transaction as the directory change
 * that issued it, until it is handed to Temporal. A delivery holds its operation with a lease, so no other pass
 * (in this process or another) starts the same delivery while it is in flight.
 */
export interface OperationStore {
  /**
   * Allocates the next operation number, builds the workflow id and the request from it, and records the
   * operation as not yet dispatched.
   */
  recordOperation(
    operation: NewOperation,
    build: (sequence: number) => { workflowId: string; request: unknown },
  ): Promise<OperationRecord>;
  /**
   * Takes the lease of an undelivered operation for `leaseMs`; false when it is delivered already or another
   * delivery holds a lease that has not expired.
   */
  leaseOperation(sequence: number, leaseMs: number): Promise<boolean>;
  /** Ends a delivery that did not happen (Temporal refused or did not answer), keeping why. */
  releaseOperation(sequence: number, error: string | null): Promise<void>;
  markOperationDispatched(sequence: number): Promise<void>;
  /** Records that the operation's run has closed: the next operation of its lane may start. */
  markOperationClosed(sequence: number): Promise<void>;
  /**
   * Operations not yet handed to Temporal whose lease (if any) has expired and whose lane has no earlier operation
   * still open (undelivered, or delivered and not seen closed), oldest first.
   */
  deliverableOperations(limit: number): Promise<OperationRecord[]>;
  /** The earliest operation of the lane before `sequence` not seen closed; null when the lane is free. */
  openOperationBefore(laneId: string, sequence: number): Promise<OperationRecord | null>;
  /**
   * Delivered operations not seen closed that a later undelivered operation of their lane waits on, oldest first:
   * the dispatcher asks Temporal whether they have closed.
   */
  awaitedOperations(limit: number): Promise<OperationRecord[]>;
  getOperation(workflowId: string): Promise<OperationRecord | null>;
  /** Users and groups of the app with an intent still in the outbox. */
  undispatchedResourceIds(appId: string): Promise<{ resourceType: string; resourceId: string }[]>;
  /** Intents not yet handed to Temporal: how many, and when the oldest was issued (null: none). For metrics. */
  outboxBacklog(): Promise<{ depth: number; oldestIssuedAt: string | null }>;
}

/** Permissions, the roles that bundle them, the groups that carry the roles, and what each user holds through them. */
/**
 * Why an app is taken to manage an attribute itself: after scimflow wrote it, the app held another value
 * (`changed`: it derives or normalises it), none (`ignored`: it drops it), or still one after scimflow removed it
 * (`kept`: it derives or defaults it). Values are never recorded: they are personal data.
 */
export type AppManagedReason = 'changed' | 'ignored' | 'kept';

/**
 * An attribute of one object that its app manages itself: scimflow wrote `wanted` (a fingerprint of the value, not
 * the value) and the app kept something else. scimflow does not write that value there again; a new directory value
 * is written (and watched) as any other.
 */
export interface AppManagedAttribute {
  resourceType: ResourceType;
  localId: string;
  /** The SCIM attribute path, as the app's mapping names it (`displayName`, `name.formatted`, `urn:…:department`). */
  attribute: string;
  reason: AppManagedReason;
  /** Fingerprint of the normalised value scimflow wrote (see diff.ts `valueFingerprint`). */
  wanted: string;
  detectedAt: string;
}

/** App-managed attributes of an app, counted by attribute and reason. */
export interface AppManagedSummary {
  resourceType: ResourceType;
  attribute: string;
  reason: AppManagedReason;
  objects: number;
}

export interface AppManagedStore {
  /** Records (or updates) attributes as app-managed. */
  recordAppManagedAttributes(
    appId: string,
    attributes: Omit<AppManagedAttribute, 'detectedAt'>[],
  ): Promise<void>;
  /** Those of some objects of an app, by local id. */
  appManagedAttributesOf(
    appId: string,
    resourceType: ResourceType,
    localIds: string[],
  ): Promise<Map<string, AppManagedAttribute[]>>;
  appManagedSummary(appId: string): Promise<AppManagedSummary[]>;
  /**
   * Forgets them, so scimflow writes them again: all of the app's, or one object's, or only the attributes named.
   * Answers how many were forgotten.
   */
  forgetAppManagedAttributes(
    appId: string,
    which?: { resourceType?: ResourceType; localId?: string; attributes?: string[] },
  ): Promise<number>;
}

/**
 * Request buckets shared by every process that calls an app (GCRA, the "virtual scheduling" form of a token
 * bucket): each row keeps the earliest time the next request may be sent, and a pause (a 429's Retry-After).
 * Every method is one statement, outside the store's write lock. Times are epoch milliseconds of the callers'
 * clocks (keep the hosts in NTP sync).
 */
export interface RateLimitStore {
  /**
   * Takes the next free slot of `bucket` for one request: spaced `spacingMs` after the previous one, at most
   * `burst` slots ahead of `nowMs`, never before a pause ends. Answers when the caller may send (≤ `nowMs`: now).
   */
  reserveSlot(bucket: string, spacingMs: number, burst: number, nowMs: number): Promise<number>;
  /** No slot of `bucket` before `untilMs`. */
  pauseBucket(bucket: string, untilMs: number): Promise<void>;
  /** When the bucket's pause ends (0 when none was set). */
  bucketPausedUntil(bucket: string): Promise<number>;
}

export interface RoleStore {
  createPermission(input: PermissionInput): Promise<Permission>;
  listPermissions(): Promise<Permission[]>;
  getPermission(key: string): Promise<Permission | null>;
  /** Also removes it from every role and app; answers the roles that held it. */
  deletePermission(key: string): Promise<{ roleIds: string[] } | null>;

  createRole(input: RoleInput): Promise<Role>;
  getRole(id: string): Promise<Role | null>;
  listRoles(): Promise<Role[]>;
  updateRole(id: string, patch: RolePatch): Promise<Role | null>;
  deleteRole(id: string): Promise<Role | null>;
  assignRoleToGroup(roleId: string, groupId: string): Promise<boolean>;
  unassignRoleFromGroup(roleId: string, groupId: string): Promise<boolean>;
  /** Members of the groups that carry any of these roles. */
  userIdsHoldingRoles(roleIds: string[]): Promise<string[]>;
  /** Roles (names) and permissions (keys) of each user, through all of the user's groups. */
  effectiveAccess(userIds: string[]): Promise<Map<string, EffectiveAccess>>;
}

/** Reconciliation runs (status, position, report) and a running run's working set of items. */
export interface ReconciliationStore {
  /** Records a run as started; for a run already recorded (a retried activity) answers the existing record. */
  beginReconciliation(run: NewReconciliation): Promise<ReconciliationRecord>;
  getReconciliation(workflowId: string): Promise<ReconciliationRecord | null>;
  /** The app's runs, newest first. */
  listReconciliations(appId: string, limit: number): Promise<ReconciliationRecord[]>;
  updateReconciliation(
    workflowId: string,
    changes: Partial<Pick<ReconciliationRecord, 'status' | 'report' | 'progress' | 'finishedAt'>>,
  ): Promise<void>;
  /** Upserts a run's items (by resource type and key) and, in the same transaction, its progress. */
  saveReconciliationItems(workflowId: string, items: ReconciliationItem[], progress?: unknown): Promise<void>;
  /** A run's items, ordered by resource type and key, `afterKey` paging through one resource type. */
  reconciliationItems(workflowId: string, filter: ReconciliationItemFilter): Promise<ReconciliationItem[]>;
  reconciliationItemCounts(
    workflowId: string,
  ): Promise<{ action: ReconciliationAction; state: ReconciliationItemState; count: number }[]>;
  clearReconciliationItems(workflowId: string): Promise<void>;
}

/**
 * The directory: the source of truth for users, groups and apps, and the memory of what was written to each app
 * (remote links and remote memberships). It knows nothing of SCIM transport or Temporal. Every method that
 * changes several rows does so in one transaction. A caller that needs only part of it asks for the narrow
 * interface (or a `Pick` of one).
 */
export interface DirectoryQueries
  extends
    UserStore,
    GroupStore,
    AppStore,
    AssignmentStore,
    LinkStore,
    OperationStore,
    RoleStore,
    ReconciliationStore,
    AppManagedStore,
    RateLimitStore {}

export interface DirectoryStore extends DirectoryQueries {
  /**
   * Runs `work` in one write transaction: everything it does through `tx` is committed together, or nothing is
   * (when it throws). Reads through `tx` see the state the transaction will commit on; no other writer interleaves.
   * Use only `tx` inside `work`.
   */
  transaction<T>(work: (tx: DirectoryQueries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface NewReconciliation {
  workflowId: string;
  appId: string;
  dryRun: boolean;
  confirmDeletions: boolean;
}

export interface ReconciliationRecord extends NewReconciliation {
  status: ReconciliationStatus;
  startedAt: string;
  finishedAt: string | null;
  /** The final report, once the run has ended. */
  report: ReconciliationReport | null;
  /** Where the run stands, so that a retried activity resumes there. Opaque to the store. */
  progress: unknown;
}

/**
 * What a reconciliation does (or did) about one object:
 * create (missing remotely, or linked but gone), update (differs), deprovision (linked, out of scope),
 * members (a group's membership differs), and the passive ones, which write nothing.
 */
export type ReconciliationAction =
  | 'create'
  | 'update'
  | 'deprovision'
  | 'members'
  | 'unchanged'
  | 'unmanaged'
  | 'deferred'
  | 'skipped'
  | 'imported';
/** planned: to do; done / error: attempted; noted: nothing to do (passive actions). */
export type ReconciliationItemState = 'planned' | 'done' | 'error' | 'noted';

export interface ReconciliationItem {
  resourceType: ResourceType;
  /** The remote id of an object seen in the app, or `local:<directory id>` (`members:<id>`) for the others. */
  key: string;
  localId: string | null;
  remoteId: string | null;
  name: string;
  action: ReconciliationAction;
  state: ReconciliationItemState;
  detail: string | null;
  error: string | null;
  /** What the app held, when a repair needs it (the resource for a PUT, a group's member ids). */
  remote: Record<string, unknown> | null;
}

export interface ReconciliationItemFilter {
  resourceType?: ResourceType;
  keyPrefix?: string;
  actions?: ReconciliationAction[];
  state?: ReconciliationItemState;
  afterKey?: string;
  limit: number;
}
