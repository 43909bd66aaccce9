import { createHash } from 'node:crypto';
import { type PatchOperation, SCIM_SCHEMAS } from './schemas';

/**
 * How scimflow compares a remote User with the directory and writes the difference. Which attributes it manages
 * comes from the app's mapping (`userWriteRules`); attributes not listed are the app's own and never touched.
 * Three rules keep it from fighting an app:
 * - values compare as SCIM says they do: userName and e-mail values and `type`s ignore case, multi-valued
 *   attributes ignore order (and `primary` on a lone value), `"True"`/`"False"` strings are booleans;
 * - an attribute is removed only when scimflow wrote a value for it before (`written`) and the directory has none
 *   now: one the directory never had is left as the app has it;
 * - a value the app answered differently after scimflow wrote it (it derives, defaults, normalises or ignores
 *   it: `appManagedAfterWrite`) is not written again while the directory wants that same value (`appManaged`).
 */

type Comparison = 'exact' | 'caseInsensitive' | 'boolean' | 'multiValued' | 'emails' | 'reference';

export interface UserAttribute {
  path: string;
  comparison: Comparison;
  /** Which switch of the app governs it: the core attributes, roles, or entitlements. */
  group: keyof AttributeSelection;
}

/**
 * Which of the managed attributes an app receives (its `updateUsers`, `roles` and `permissions` switches).
 * An attribute it does not receive is never written, nor removed.
 */
export interface AttributeSelection {
  core: boolean;
  roles: boolean;
  entitlements: boolean;
}

/** The attributes scimflow manages on an app's users, and which of them its switches let it write. */
export interface UserWriteRules {
  attributes: UserAttribute[];
  selection: AttributeSelection;
}

/** Of one object: attribute path → fingerprint of the value the app would not keep (see `valueFingerprint`). */
export type AppManagedValues = ReadonlyMap<string, string>;

const ENTERPRISE = SCIM_SCHEMAS.enterpriseUser;

/** Attributes scimflow's identity of a user rests on: never taken as app-managed, always written. */
const IDENTITY_PATHS = new Set(['userName', 'externalId', 'active']);

function comparisonOf(path: string): Comparison {
  if (path === 'userName') return 'caseInsensitive';
  if (path === 'active') return 'boolean';
  if (path === 'emails') return 'emails';
  if (path === 'phoneNumbers') return 'multiValued';
  if (path === `${ENTERPRISE}:manager`) return 'reference';
  return 'exact';
}

/**
 * The rules for an app whose mapping writes `mappedPaths` (SCIM paths), with its switches' selection. externalId
 * (scimflow's id of the user), roles and entitlements are always part of it; the switches say which are written.
 */
export function userWriteRules(mappedPaths: string[], selection: AttributeSelection): UserWriteRules {
  const paths = [
    'userName',
    'externalId',
    ...mappedPaths.filter((path) => path !== 'userName' && path !== 'externalId'),
  ];
  return {
    attributes: [
      ...paths.map((path) => ({ path, comparison: comparisonOf(path), group: 'core' as const })),
      { path: 'roles', comparison: 'multiValued', group: 'roles' },
      { path: 'entitlements', comparison: 'multiValued', group: 'entitlements' },
    ],
    selection,
  };
}

/** The attributes of RFC 7643's User and enterprise extension that scimflow fills by default (the generic profile). */
const defaultPaths = [
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'displayName',
  'title',
  'active',
  'emails',
  'phoneNumbers',
  `${ENTERPRISE}:employeeNumber`,
  `${ENTERPRISE}:department`,
  `${ENTERPRISE}:manager`,
];

/** The rules of an app with the default mapping, for the given switches (core attributes only by default). */
export function defaultUserRules(
  selection: AttributeSelection = { core: true, roles: false, entitlements: false },
): UserWriteRules {
  return userWriteRules(defaultPaths, selection);
}

const defaultRules = defaultUserRules();

/** `urn:…:User:department` → [`urn:…:User`, `department`]; `name.givenName` → [`name`, `givenName`]. */
export function pathKeys(path: string): string[] {
  if (path.startsWith('urn:')) {
    const cut = path.lastIndexOf(':');
    return [path.slice(0, cut), ...path.slice(cut + 1).split('.')];
  }
  return path.split('.');
}

/** The schema URN an attribute path belongs to, when it is an extension's. */
export function extensionSchemaOf(path: string): string | undefined {
  return path.startsWith('urn:') ? pathKeys(path)[0] : undefined;
}

function rawValue(resource: Record<string, unknown>, path: string): unknown {
  let current: unknown = resource;
  for (const key of pathKeys(path)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current === null || current === '' ? undefined : current;
}

/** Targets answer `"True"`/`"False"` strings now and then (older Entra-era servers); compare as booleans. */
function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.trim().toLowerCase() === 'true';
  return undefined;
}

const folded = (value: unknown) => String(value).normalize('NFC').toLowerCase();

/**
 * Multi-valued attributes compare by value, type and primary, in no order; `type` ignores case (canonical values
 * are case-insensitive, RFC 7643 §2.3.1), as do e-mail values (targets lowercase them); `primary` counts only among
 * several values (a lone value is the primary one whether the app says so or not).
 */
function multiValued(value: unknown, lowercaseValues: boolean) {
  if (!Array.isArray(value)) return undefined;
  const items = value
    .filter((item) => item && typeof item === 'object' && (item as Record<string, unknown>).value != null)
    .map((item: Record<string, unknown>) => ({
      value: lowercaseValues ? folded(item.value) : String(item.value),
      type: typeof item.type === 'string' && item.type ? item.type.toLowerCase() : null,
      primary: item.primary === true || item.primary === 'true',
    }));
  if (items.length === 0) return undefined;
  if (items.length === 1) items[0].primary = false;
  return items.sort((a, b) =>
    a.value === b.value ? String(a.type).localeCompare(String(b.type)) : a.value < b.value ? -1 : 1,
  );
}

/** An attribute's value in the form it compares in; undefined when the resource holds none. */
function comparable(attribute: UserAttribute, resource: Record<string, unknown>): unknown {
  const value = rawValue(resource, attribute.path);
  if (value === undefined) return undefined;
  switch (attribute.comparison) {
    case 'boolean':
      return asBoolean(value);
    case 'caseInsensitive':
      return folded(value);
    case 'emails':
      return multiValued(value, true);
    case 'multiValued':
      return multiValued(value, false);
    case 'reference': {
      const reference = typeof value === 'object' ? (value as Record<string, unknown>).value : value;
      return reference == null || reference === '' ? undefined : String(reference);
    }
    case 'exact':
      return typeof value === 'object' ? value : String(value);
  }
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A short fingerprint of a value as it compares: recorded instead of the value, which is personal data. */
export function valueFingerprint(attribute: UserAttribute, resource: Record<string, unknown>): string {
  const value = comparable(attribute, resource);
  if (value === undefined) return 'none';
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 16);
}

/**
 * A full resource for PUT (targets without PATCH): what the target holds, with every managed attribute that
 * differs set to its desired value — attributes scimflow does not manage survive the replace.
 */
export function replacementUser(
  current: Record<string, unknown>,
  desired: Record<string, unknown>,
  rules: UserWriteRules = defaultRules,
  options: DiffOptions = {},
): Record<string, unknown> {
  const { meta: _meta, ...replacement } = structuredClone(current);
  for (const operation of userPatchOperations(current, desired, rules, options)) {
    const keys = pathKeys(operation.path as string);
    let parent = replacement as Record<string, unknown>;
    for (const key of keys.slice(0, -1)) {
      parent[key] = typeof parent[key] === 'object' && parent[key] !== null ? parent[key] : {};
      parent = parent[key] as Record<string, unknown>;
    }
    const leaf = keys.at(-1) as string;
    if (operation.op === 'remove') delete parent[leaf];
    else parent[leaf] = operation.value;
  }
  const schemas = new Set([
    ...((replacement.schemas as string[]) ?? []),
    ...((desired.schemas as string[]) ?? []),
  ]);
  return { ...replacement, schemas: [...schemas] };
}

/**
 * The state of a remote user scimflow adopts (links instead of creating), as later diffs start from it: what the app
 * holds, but for the managed attributes the directory has no value for — those were never written by scimflow, so
 * no later change removes them.
 */
export function adoptedState(
  remote: Record<string, unknown>,
  desired: Record<string, unknown> | undefined,
  rules: UserWriteRules = defaultRules,
): Record<string, unknown> {
  const { meta: _meta, ...state } = structuredClone(remote);
  for (const attribute of rules.attributes) {
    if (desired && comparable(attribute, desired) !== undefined) continue;
    const keys = pathKeys(attribute.path);
    let parent: unknown = state;
    for (const key of keys.slice(0, -1)) parent = (parent as Record<string, unknown> | undefined)?.[key];
    if (parent && typeof parent === 'object')
      delete (parent as Record<string, unknown>)[keys.at(-1) as string];
  }
  return state;
}

export interface DiffOptions {
  /**
   * What scimflow wrote there before (the link's `lastPushed`): an attribute is removed only if it holds a value.
   * Without it, `current` is taken as written (when `current` is the link's `lastPushed` itself).
   */
  written?: Record<string, unknown> | null;
  /** Values of this object the app manages itself: not written again. */
  appManaged?: AppManagedValues;
}

/**
 * The PATCH operations that turn `current` (what the target holds, or what was last written) into `desired`,
 * one `replace` or `remove` per managed attribute that differs, with lower-case op names (RFC 7644 §3.5.2).
 * An empty list means the target already matches, or differs only where the app has its way: no call is made.
 */
export function userPatchOperations(
  current: Record<string, unknown>,
  desired: Record<string, unknown>,
  rules: UserWriteRules = defaultRules,
  options: DiffOptions = {},
): PatchOperation[] {
  const written = options.written ?? current;
  const operations: PatchOperation[] = [];
  for (const attribute of rules.attributes) {
    if (!rules.selection[attribute.group]) continue;
    const want = comparable(attribute, desired);
    if (sameValue(want, comparable(attribute, current))) continue;
    if (options.appManaged?.get(attribute.path) === valueFingerprint(attribute, desired)) continue;
    if (want !== undefined) {
      operations.push({ op: 'replace', path: attribute.path, value: rawValue(desired, attribute.path) });
    } else if (comparable(attribute, written) !== undefined) {
      operations.push({ op: 'remove', path: attribute.path });
    }
  }
  return operations;
}

/** An attribute of one object the app did not keep as scimflow wrote it, and how. */
export interface AppManagedFinding {
  attribute: string;
  reason: 'changed' | 'ignored' | 'kept';
  /** `valueFingerprint` of what scimflow wanted there. */
  wanted: string;
}

/**
 * After a write, what the app answered (the resource it sent back, or read right after) against what was written:
 * each written attribute it holds otherwise — another value (`changed`: it derives or normalises it), none
 * (`ignored`), or one it was told to remove (`kept`). `writtenPaths`: the paths of a PATCH or PUT's changes; a
 * create wrote every attribute `desired` holds. userName, externalId and active are never taken as app-managed.
 */
export function appManagedAfterWrite(
  answer: Record<string, unknown>,
  desired: Record<string, unknown>,
  rules: UserWriteRules,
  writtenPaths: string[] | 'created',
): AppManagedFinding[] {
  const findings: AppManagedFinding[] = [];
  for (const attribute of rules.attributes) {
    if (!rules.selection[attribute.group] || IDENTITY_PATHS.has(attribute.path)) continue;
    const want = comparable(attribute, desired);
    if (writtenPaths === 'created' ? want === undefined : !writtenPaths.includes(attribute.path)) continue;
    const got = comparable(attribute, answer);
    if (sameValue(want, got)) continue;
    const reason = want === undefined ? 'kept' : got === undefined ? 'ignored' : 'changed';
    findings.push({ attribute: attribute.path, reason, wanted: valueFingerprint(attribute, desired) });
  }
  return findings;
}

/**
 * The operation that sets `active` alone: a path (RFC 7644 §3.5.2.3), or Okta's path-less form with the value
 * as an object, which apps built for Okta may be the only one to accept.
 */
export function activeOperation(active: boolean, form: 'path' | 'value-object'): PatchOperation {
  return form === 'path'
    ? { op: 'replace', path: 'active', value: active }
    : { op: 'replace', value: { active } };
}

/**
 * Member additions and removals as PATCH operations, at most `batchSize` members per request. A removal names the
 * member in a value filter (`members[value eq "id"]`, RFC 7644 §3.5.2.2, what current Entra ID sends and most
 * targets accept), or lists the members to remove as a value (`removal: 'value-list'`, legacy Entra).
 */
export function membershipPatchBatches(
  add: string[],
  remove: string[],
  batchSize: number,
  removal: 'value-filter' | 'value-list' = 'value-filter',
): PatchOperation[][] {
  const batches: PatchOperation[][] = [];
  for (let i = 0; i < add.length; i += batchSize) {
    const values = add.slice(i, i + batchSize).map((value) => ({ value }));
    batches.push([{ op: 'add', path: 'members', value: values }]);
  }
  for (let i = 0; i < remove.length; i += batchSize) {
    const ids = remove.slice(i, i + batchSize);
    batches.push(
      removal === 'value-list'
        ? [{ op: 'remove', path: 'members', value: ids.map((value) => ({ value })) }]
        : ids.map((id) => ({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` })),
    );
  }
  return batches;
}
