import { type PatchOperation, SCIM_SCHEMAS } from './schemas';

/**
 * Which attributes scimflow manages on a remote User, how to read each from a SCIM resource in a comparable
 * form, and the PATCH path that writes it. Attributes not listed here are the target's own and never touched.
 */
interface ManagedAttribute {
  path: string;
  read(resource: Record<string, unknown>): unknown;
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

const coreOnly: AttributeSelection = { core: true, roles: false, entitlements: false };

const ENTERPRISE = SCIM_SCHEMAS.enterpriseUser;

function at(resource: Record<string, unknown>, ...keys: string[]): unknown {
  let current: unknown = resource;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current === null || current === '' ? undefined : current;
}

/** Targets answer `"True"`/`"False"` strings now and then (older Entra-era servers); compare as booleans. */
function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.toLowerCase() === 'true';
  return undefined;
}

/** Multi-valued attributes compared by value/type/primary only; e-mail values ignore case (targets lowercase them). */
function multiValued(lowercaseValues: boolean) {
  return (value: unknown) => {
    if (!Array.isArray(value) || value.length === 0) return undefined;
    return value
      .map((item: Record<string, unknown>) => ({
        value: lowercaseValues ? String(item.value ?? '').toLowerCase() : String(item.value ?? ''),
        type: item.type ?? null,
        primary: item.primary === true,
      }))
      .sort((a, b) => a.value.localeCompare(b.value));
  };
}

const managedUserAttributes: ManagedAttribute[] = [
  { path: 'userName', read: (r) => at(r, 'userName'), group: 'core' },
  { path: 'externalId', read: (r) => at(r, 'externalId'), group: 'core' },
  { path: 'name.givenName', read: (r) => at(r, 'name', 'givenName'), group: 'core' },
  { path: 'name.familyName', read: (r) => at(r, 'name', 'familyName'), group: 'core' },
  { path: 'name.formatted', read: (r) => at(r, 'name', 'formatted'), group: 'core' },
  { path: 'displayName', read: (r) => at(r, 'displayName'), group: 'core' },
  { path: 'title', read: (r) => at(r, 'title'), group: 'core' },
  { path: 'active', read: (r) => asBoolean(at(r, 'active')), group: 'core' },
  { path: 'emails', read: (r) => multiValued(true)(at(r, 'emails')), group: 'core' },
  { path: 'phoneNumbers', read: (r) => multiValued(false)(at(r, 'phoneNumbers')), group: 'core' },
  { path: `${ENTERPRISE}:employeeNumber`, read: (r) => at(r, ENTERPRISE, 'employeeNumber'), group: 'core' },
  { path: `${ENTERPRISE}:department`, read: (r) => at(r, ENTERPRISE, 'department'), group: 'core' },
  { path: `${ENTERPRISE}:manager`, read: (r) => at(r, ENTERPRISE, 'manager', 'value'), group: 'core' },
  { path: 'roles', read: (r) => multiValued(false)(at(r, 'roles')), group: 'roles' },
  { path: 'entitlements', read: (r) => multiValued(false)(at(r, 'entitlements')), group: 'entitlements' },
];

function rawValue(resource: Record<string, unknown>, path: string): unknown {
  if (path.startsWith(`${ENTERPRISE}:`)) {
    return at(resource, ENTERPRISE, path.slice(ENTERPRISE.length + 1));
  }
  return at(resource, ...path.split('.'));
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * A full resource for PUT (targets without PATCH): what the target holds, with every managed attribute set to
 * its desired value — attributes scimflow does not manage survive the replace.
 */
export function replacementUser(
  current: Record<string, unknown>,
  desired: Record<string, unknown>,
  selection: AttributeSelection = coreOnly,
): Record<string, unknown> {
  const { meta: _meta, ...replacement } = structuredClone(current);
  for (const operation of userPatchOperations(current, desired, selection)) {
    const path = operation.path as string;
    const [head, ...rest] = path.startsWith(`${ENTERPRISE}:`)
      ? [ENTERPRISE, path.slice(ENTERPRISE.length + 1)]
      : path.split('.');
    let parent = replacement as Record<string, unknown>;
    for (const key of [head, ...rest].slice(0, -1)) {
      parent[key] = typeof parent[key] === 'object' && parent[key] !== null ? parent[key] : {};
      parent = parent[key] as Record<string, unknown>;
    }
    const leaf = [head, ...rest].at(-1) as string;
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
 * The PATCH operations that turn `current` (what the target holds, or what was last written) into `desired`,
 * one `replace` or `remove` per managed attribute that differs, with lower-case op names (RFC 7644 §3.5.2).
 * An empty list means the target already matches: no call is made.
 */
export function userPatchOperations(
  current: Record<string, unknown>,
  desired: Record<string, unknown>,
  selection: AttributeSelection = coreOnly,
): PatchOperation[] {
  const operations: PatchOperation[] = [];
  for (const attribute of managedUserAttributes) {
    if (!selection[attribute.group]) continue;
    const want = attribute.read(desired);
    const have = attribute.read(current);
    if (sameValue(want, have)) continue;
    if (want === undefined) operations.push({ op: 'remove', path: attribute.path });
    else operations.push({ op: 'replace', path: attribute.path, value: rawValue(desired, attribute.path) });
  }
  return operations;
}

/** Member additions and removals as PATCH operations, at most `batchSize` members per request. */
export function membershipPatchBatches(
  add: string[],
  remove: string[],
  batchSize: number,
): PatchOperation[][] {
  const batches: PatchOperation[][] = [];
  for (let i = 0; i < add.length; i += batchSize) {
    const values = add.slice(i, i + batchSize).map((value) => ({ value }));
    batches.push([{ op: 'add', path: 'members', value: values }]);
  }
  for (let i = 0; i < remove.length; i += batchSize) {
    // The value-filter form is what current Entra ID sends and what most targets accept.
    batches.push(
      remove
        .slice(i, i + batchSize)
        .map((id) => ({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` })),
    );
  }
  return batches;
}
