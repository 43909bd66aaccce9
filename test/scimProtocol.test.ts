import { equalityFilter } from '../src/scim/client';
import { membershipPatchBatches, userPatchOperations } from '../src/scim/diff';
import { kindOfStatus, parseRetryAfter } from '../src/scim/errors';
import { desiredScimUser, userMatch } from '../src/provisioning/mapping';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('PATCH operations from a diff', () => {
  const base = {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'a@example.com',
    active: true,
    emails: [{ value: 'a@example.com', type: 'work', primary: true }],
    name: { givenName: 'A', familyName: 'B' },
  };

  it('writes nothing when only case of e-mails, "True" strings or server attributes differ', () => {
    const remote = {
      ...base,
      id: 'r1',
      meta: { created: 'x' },
      active: 'True',
      emails: [{ value: 'A@Example.com', type: 'work', primary: true, display: 'A' }],
    };
    expect(userPatchOperations(remote, base)).toEqual([]);
  });

  it('replaces changed sub-attributes and removes cleared ones, with lower-case op names', () => {
    const desired = {
      ...base,
      name: { givenName: 'Ann', familyName: 'B' },
      [ENTERPRISE]: { department: 'X' },
    };
    const current = { ...base, title: 'Old' };
    expect(userPatchOperations(current, desired)).toEqual([
      { op: 'replace', path: 'name.givenName', value: 'Ann' },
      { op: 'remove', path: 'title' },
      { op: 'replace', path: `${ENTERPRISE}:department`, value: 'X' },
    ]);
  });

  it('sends a real boolean for active', () => {
    expect(userPatchOperations(base, { ...base, active: false })).toEqual([
      { op: 'replace', path: 'active', value: false },
    ]);
  });

  it('splits membership changes into batches', () => {
    const add = Array.from({ length: 250 }, (_, i) => `u${i}`);
    const batches = membershipPatchBatches(add, ['gone'], 100);
    expect(
      batches.map((ops) => ops.map((op) => (Array.isArray(op.value) ? op.value.length : op.path))),
    ).toEqual([[100], [100], [50], ['members[value eq "gone"]']]);
  });
});

describe('filters', () => {
  it('quote and escape values as JSON strings (RFC 7644 §3.4.2.2)', () => {
    expect(equalityFilter('userName', 'o"brien\\x@example.com')).toBe(
      'userName eq "o\\"brien\\\\x@example.com"',
    );
  });
});

describe('classifying SCIM failures', () => {
  it.each([
    [429, 'rate-limited'],
    [408, 'transient'],
    [500, 'transient'],
    [503, 'transient'],
    [404, 'not-found'],
    [409, 'conflict'],
    [400, 'rejected'],
    [401, 'rejected'],
    [412, 'rejected'],
  ])('%i is %s', (status, kind) => {
    expect(kindOfStatus(status)).toBe(kind);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('mapping a directory user to SCIM', () => {
  const user = {
    id: 'dir-1',
    userName: 'zoe@example.com',
    active: true,
    externalId: 'hr-77',
    department: 'Ops',
    manager: 'dir-0',
    emails: [
      { value: 'zoe.personal@example.com', type: 'home' },
      { value: 'zoe@example.com', type: 'work', primary: true },
    ],
    createdAt: '',
    updatedAt: '',
  };

  it('sends the directory id as externalId and the enterprise attributes, with the manager only once linked', () => {
    expect(desiredScimUser(user)).toMatchObject({ externalId: 'dir-1', [ENTERPRISE]: { department: 'Ops' } });
    expect(desiredScimUser(user)[ENTERPRISE]).not.toHaveProperty('manager');
    expect(desiredScimUser(user, { managerRemoteId: 'r-0' })[ENTERPRISE]).toEqual({
      department: 'Ops',
      manager: { value: 'r-0' },
    });
  });

  it('matches on the primary e-mail when the app matches by email', () => {
    expect(userMatch('email', user)).toEqual({ attribute: 'emails.value', value: 'zoe@example.com' });
    expect(userMatch('externalId', user)).toEqual({ attribute: 'externalId', value: 'dir-1' });
  });
});
