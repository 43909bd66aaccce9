import type { ScimRequestRecord, ScimTestServer } from './scimServer';
import type { ScimflowProcess } from './scimflowProcess';

/**
 * What the crash and scale-out tests check once scimflow has settled: the directory read through the API, and how a
 * SCIM target (a test server that never answers 409) differs from it.
 */

export interface DirectoryUserView {
  id: string;
  userName: string;
  active: boolean;
  title?: string;
  displayName?: string;
  groupIds: string[];
}

export interface DirectoryGroupView {
  id: string;
  displayName: string;
  memberIds: string[];
}

export interface DirectoryView {
  users: DirectoryUserView[];
  /** The groups asked for, in the order asked. */
  groups: DirectoryGroupView[];
}

/** A target and what the directory asks of it; `label` names it in the differences when a test has several. */
export interface TargetUnderTest {
  scim: ScimTestServer;
  /** The groups assigned to its app. */
  assigned: Set<string>;
  label?: string;
  /**
   * Whether an inactive member may be missing from a remote group. Deactivating a linked user keeps its memberships,
   * but memberships are written only for users in scope (active): a user deactivated before its first membership was
   * written (its creation cut off by a crash, adopted later) is never added. The crash test kills one process, whose
   * creations are resumed before deactivations run; the scale test's killed worker resumes a minute later.
   */
  inactiveMembersOptional?: boolean;
}

/** A directory user as the tests create it (its userName is an e-mail address). */
export function userFor(userName: string, familyName: string) {
  const [local] = userName.split('@');
  return {
    userName,
    displayName: local,
    name: { givenName: local, familyName },
    emails: [{ value: userName, type: 'work', primary: true }],
  };
}

export async function readDirectory(scimflow: ScimflowProcess, groupIds: string[]): Promise<DirectoryView> {
  const users: DirectoryUserView[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await scimflow.ok<{ items: DirectoryUserView[]; total: number }>(
      'GET',
      `/api/users?offset=${offset}&limit=500`,
    );
    users.push(...page.items);
    if (users.length >= page.total || page.items.length === 0) break;
  }
  const groups = await Promise.all(
    groupIds.map((id) => scimflow.ok<DirectoryGroupView>('GET', `/api/groups/${id}`)),
  );
  return { users, groups };
}

/**
 * Where a target differs from what the directory asks of it: every user in the app's scope (active, and a member of
 * an assigned group) exists with the directory's attributes; every other user is absent or deactivated; each
 * assigned group exists under its current name, with exactly the members that exist remotely.
 */
export function targetProblems(
  directory: DirectoryView,
  { label, scim, assigned, inactiveMembersOptional }: TargetUnderTest,
): string[] {
  const prefix = label ? `${label}: ` : '';
  const problems: string[] = [];
  const remoteUsers = scim.users();
  const remoteByUserName = groupBy(remoteUsers, (user) => user.userName.toLowerCase());
  const userNameOfRemoteId = new Map(remoteUsers.map((user) => [user.id, user.userName.toLowerCase()]));
  for (const user of directory.users) {
    // Duplicates are counted apart (duplicatesIn); here each remote copy has to be right.
    const remotes = remoteByUserName.get(user.userName.toLowerCase()) ?? [];
    const inScope = user.active && user.groupIds.some((id) => assigned.has(id));
    if (!inScope) {
      if (remotes.some((remote) => remote.active !== false))
        problems.push(`${prefix}${user.userName}: out of scope, active in the target`);
      continue;
    }
    if (!remotes.length) problems.push(`${prefix}${user.userName}: in scope, missing in the target`);
    for (const remote of remotes) {
      const differences = [
        remote.active === true ? '' : `active ${String(remote.active)}`,
        remote.externalId === user.id ? '' : `externalId ${remote.externalId}`,
        remote.title === user.title
          ? ''
          : `title "${String(remote.title)}", directory "${String(user.title)}"`,
        remote.displayName === user.displayName ? '' : `displayName "${String(remote.displayName)}"`,
      ].filter(Boolean);
      if (differences.length) problems.push(`${prefix}${user.userName}: ${differences.join(', ')}`);
    }
  }
  const known = new Set(directory.users.map((user) => user.userName.toLowerCase()));
  for (const remote of remoteUsers) {
    if (!known.has(remote.userName.toLowerCase()))
      problems.push(`${prefix}remote user ${remote.userName}: not in the directory`);
  }

  const remoteGroups = scim.groups();
  const userNameOf = new Map(directory.users.map((user) => [user.id, user.userName.toLowerCase()]));
  const assignedGroups = directory.groups.filter((group) => assigned.has(group.id));
  for (const group of assignedGroups) {
    const matches = remoteGroups.filter((remote) => remote.displayName === group.displayName);
    if (!matches.length) {
      problems.push(`${prefix}group ${group.displayName}: missing in the target`);
      continue;
    }
    // Members are sent once they exist remotely; a deactivated user keeps its memberships.
    const expected = new Set(
      group.memberIds
        .map((id) => userNameOf.get(id) ?? id)
        .filter((userName) => remoteByUserName.has(userName)),
    );
    const actual = new Set(
      (matches[0].members ?? []).map(
        (member) => userNameOfRemoteId.get(member.value) ?? `unknown id ${member.value}`,
      ),
    );
    const inactive = new Set(
      directory.users.filter((user) => !user.active).map((user) => user.userName.toLowerCase()),
    );
    const missing = [...expected].filter(
      (userName) => !actual.has(userName) && !(inactiveMembersOptional && inactive.has(userName)),
    );
    const extra = [...actual].filter((userName) => !expected.has(userName));
    if (missing.length)
      problems.push(`${prefix}group ${group.displayName}: members missing: ${missing.join(', ')}`);
    if (extra.length)
      problems.push(
        `${prefix}group ${group.displayName}: members not in the directory group: ${extra.join(', ')}`,
      );
  }
  const wanted = new Set(assignedGroups.map((group) => group.displayName));
  for (const remote of remoteGroups) {
    if (!wanted.has(remote.displayName))
      problems.push(`${prefix}remote group ${remote.displayName}: not wanted`);
  }
  return problems;
}

/**
 * More than one remote user per userName, or remote group per displayName. The targets never answer 409, so a
 * create sent twice is a duplicate here (users are deactivated, never deleted, in these tests).
 */
export function duplicatesIn({ label, scim }: TargetUnderTest): string[] {
  const prefix = label ? `${label}: ` : '';
  const users = groupBy(scim.users(), (user) => user.userName.toLowerCase());
  const groups = groupBy(scim.groups(), (group) => group.displayName);
  return [
    ...[...users]
      .filter(([, list]) => list.length > 1)
      .map(([userName, list]) => `${prefix}user ${userName} ×${list.length}`),
    ...[...groups]
      .filter(([, list]) => list.length > 1)
      .map(([name, list]) => `${prefix}group ${name} ×${list.length}`),
  ];
}

export function duplicatedUsersIn({ scim }: TargetUnderTest, directory: DirectoryView): DirectoryUserView[] {
  const counts = groupBy(scim.users(), (user) => user.userName.toLowerCase());
  return directory.users.filter((user) => (counts.get(user.userName.toLowerCase())?.length ?? 0) > 1);
}

/** How many creates a target took, for reports. */
export function createsIn(requests: ScimRequestRecord[]): string {
  const created = (path: string) =>
    requests.filter((request) => request.method === 'POST' && request.path === path && request.status === 201)
      .length;
  return `took ${created('/Users')} POST /Users and ${created('/Groups')} POST /Groups`;
}

export function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** A small seeded generator, so a failing run can be replayed with its seed. */
export function mulberry32(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
