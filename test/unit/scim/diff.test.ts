import {
  defaultUserRules,
  membershipPatchBatches,
  replacementUser,
  userPatchOperations,
} from '../../../src/scim/diff';
import { SCIM_SCHEMAS } from '../../../src/scim/schemas';

const ENTERPRISE = SCIM_SCHEMAS.enterpriseUser;

/** Alice as the directory wants her in the app. */
const desiredAlice = {
  schemas: [SCIM_SCHEMAS.user, ENTERPRISE],
  userName: 'alice@example.com',
  externalId: 'alice',
  name: { givenName: 'Alice', familyName: 'Liddell', formatted: 'Alice Liddell' },
  displayName: 'Alice Liddell',
  title: 'Engineer',
  active: true,
  emails: [{ value: 'alice@example.com', type: 'work', primary: true }],
  [ENTERPRISE]: { department: 'R&D', employeeNumber: '42', manager: { value: 'remote-bob' } },
};

/** Alice as the app holds her: the same state, in the app's own spelling, with attributes of its own. */
const aliceInTheApp = {
  ...structuredClone(desiredAlice),
  id: 'remote-alice',
  meta: { resourceType: 'User', version: 'W/"3"' },
  nickName: 'Al',
  emails: [{ value: 'Alice@Example.COM', type: 'work', primary: true, display: 'Alice' }],
  [ENTERPRISE]: {
    department: 'R&D',
    employeeNumber: '42',
    manager: { value: 'remote-bob', displayName: 'Bob', $ref: 'https://app.example.com/Users/remote-bob' },
  },
};

describe('userPatchOperations: the PATCH that turns what the app holds into the directory state', () => {
  test('given the app holds Alice as the directory has her (its own spelling aside), then no operation: no call is made', () => {
    expect(userPatchOperations(aliceInTheApp, desiredAlice)).toEqual([]);
  });

  test('given only her title changed, then exactly one lower-case replace of title is sent', () => {
    const operations = userPatchOperations(aliceInTheApp, { ...desiredAlice, title: 'Lead Engineer' });

    expect(operations).toEqual([{ op: 'replace', path: 'title', value: 'Lead Engineer' }]);
  });

  test('given her title was removed in the directory, then a remove of title is sent', () => {
    const { title: _title, ...withoutTitle } = desiredAlice;

    expect(userPatchOperations(aliceInTheApp, withoutTitle)).toEqual([{ op: 'remove', path: 'title' }]);
  });

  test('given nested and enterprise attributes changed, then their full paths are written', () => {
    const desired = {
      ...desiredAlice,
      name: { ...desiredAlice.name, familyName: 'Hargreaves' },
      [ENTERPRISE]: { ...desiredAlice[ENTERPRISE], department: 'Platform' },
    };

    expect(userPatchOperations(aliceInTheApp, desired)).toEqual([
      { op: 'replace', path: 'name.familyName', value: 'Hargreaves' },
      { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Platform' },
    ]);
  });

  test('given she is deactivated, then active is sent as the boolean false, never the string "False"', () => {
    const [operation] = userPatchOperations(aliceInTheApp, { ...desiredAlice, active: false });

    expect(operation).toEqual({ op: 'replace', path: 'active', value: false });
    expect(typeof operation.value).toBe('boolean');
  });

  test('given the app answers active as the strings "True"/"False", then they compare as the booleans they mean', () => {
    expect(userPatchOperations({ ...aliceInTheApp, active: 'True' }, desiredAlice)).toEqual([]);
    expect(userPatchOperations({ ...aliceInTheApp, active: 'False' }, desiredAlice)).toEqual([
      { op: 'replace', path: 'active', value: true },
    ]);
  });

  test('given e-mails that differ only in case, or in order, then they match; a new address does not', () => {
    const twoEmails = [
      { value: 'alice@example.com', type: 'work', primary: true },
      { value: 'al@example.org', type: 'home' },
    ];
    const heldReversedAndUpperCase = [
      { value: 'AL@EXAMPLE.ORG', type: 'home' },
      { value: 'ALICE@example.com', type: 'work', primary: true },
    ];

    expect(
      userPatchOperations(
        { ...aliceInTheApp, emails: heldReversedAndUpperCase },
        { ...desiredAlice, emails: twoEmails },
      ),
    ).toEqual([]);
    expect(
      userPatchOperations(aliceInTheApp, { ...desiredAlice, emails: twoEmails }).map((op) => op.path),
    ).toEqual(['emails']);
  });

  test('given empty strings and nulls in the app, then they count as absent', () => {
    const { title: _title, ...withoutTitle } = desiredAlice;

    expect(userPatchOperations({ ...aliceInTheApp, title: '' }, withoutTitle)).toEqual([]);
    expect(userPatchOperations({ ...aliceInTheApp, title: null }, withoutTitle)).toEqual([]);
  });

  test('given attributes scimflow does not manage differ (nickName, id, meta), then they are left alone', () => {
    expect(
      userPatchOperations({ ...aliceInTheApp, nickName: 'Ally', id: 'other', locale: 'en-GB' }, desiredAlice),
    ).toEqual([]);
  });

  describe('which attributes the app receives', () => {
    const roles = [{ value: 'admin' }];
    const entitlements = [{ value: 'billing.read' }];
    const desired = { ...desiredAlice, title: 'Lead Engineer', roles, entitlements };

    test('given the default selection (core only), then roles and entitlements are neither written nor removed', () => {
      expect(userPatchOperations(aliceInTheApp, desired).map((op) => op.path)).toEqual(['title']);
      expect(
        userPatchOperations({ ...aliceInTheApp, roles: [{ value: 'old' }] }, desiredAlice).map(
          (op) => op.path,
        ),
      ).toEqual([]);
    });

    test('given an app that receives roles and entitlements, then they are written too', () => {
      const operations = userPatchOperations(
        aliceInTheApp,
        desired,
        defaultUserRules({ core: true, roles: true, entitlements: true }),
      );

      expect(operations).toEqual([
        { op: 'replace', path: 'title', value: 'Lead Engineer' },
        { op: 'replace', path: 'roles', value: roles },
        { op: 'replace', path: 'entitlements', value: entitlements },
      ]);
    });

    test('given an app that receives roles only (updateUsers off), then core attributes are not written', () => {
      const operations = userPatchOperations(
        aliceInTheApp,
        desired,
        defaultUserRules({ core: false, roles: true, entitlements: false }),
      );

      expect(operations).toEqual([{ op: 'replace', path: 'roles', value: roles }]);
    });

    test('given roles that differ only in order, then they match', () => {
      const current = { ...aliceInTheApp, roles: [{ value: 'b' }, { value: 'a' }] };

      expect(
        userPatchOperations(
          current,
          { ...desiredAlice, roles: [{ value: 'a' }, { value: 'b' }] },
          defaultUserRules({ core: true, roles: true, entitlements: false }),
        ),
      ).toEqual([]);
    });
  });
});

describe('replacementUser: the full resource a PUT sends to a target without PATCH', () => {
  test('given the app holds attributes of its own, then they survive: only managed attributes are set', () => {
    const replacement = replacementUser(aliceInTheApp, { ...desiredAlice, title: 'Lead Engineer' });

    expect(replacement).toMatchObject({ id: 'remote-alice', nickName: 'Al', title: 'Lead Engineer' });
    // What the app held where nothing differs, in its own spelling.
    expect(replacement.emails).toEqual(aliceInTheApp.emails);
    expect(replacement).not.toHaveProperty('meta');
  });

  test('given a managed attribute removed in the directory, then the replacement leaves it out', () => {
    const { title: _title, ...withoutTitle } = desiredAlice;

    expect(replacementUser(aliceInTheApp, withoutTitle)).not.toHaveProperty('title');
  });

  test('given an app user without the enterprise extension, then it is added with its schema', () => {
    const { [ENTERPRISE]: _enterprise, ...coreOnly } = aliceInTheApp;
    const replacement = replacementUser({ ...coreOnly, schemas: [SCIM_SCHEMAS.user] }, desiredAlice);

    expect(replacement[ENTERPRISE]).toEqual({
      department: 'R&D',
      employeeNumber: '42',
      manager: { value: 'remote-bob' },
    });
    expect(replacement.schemas).toEqual([SCIM_SCHEMAS.user, ENTERPRISE]);
  });

  test('given an app that does not receive roles, then the roles it holds are kept as they are', () => {
    const held = { ...aliceInTheApp, roles: [{ value: 'set-by-hand' }] };

    expect(replacementUser(held, { ...desiredAlice, roles: [{ value: 'admin' }] }).roles).toEqual([
      { value: 'set-by-hand' },
    ]);
  });

  test('given the resource read from the app, then it is not changed in place', () => {
    const held = structuredClone(aliceInTheApp);

    replacementUser(held, {
      ...desiredAlice,
      title: 'Lead Engineer',
      name: { ...desiredAlice.name, familyName: 'Hargreaves' },
      [ENTERPRISE]: { ...desiredAlice[ENTERPRISE], department: 'Platform' },
    });

    expect(held).toEqual(aliceInTheApp);
  });
});

describe('membershipPatchBatches: member changes in PATCHes of at most batchSize members', () => {
  const ids = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

  test('given 250 members to add and a batch size of 100, then three PATCHes of 100, 100 and 50 adds', () => {
    const batches = membershipPatchBatches(ids(250, 'u'), [], 100);

    expect(batches).toHaveLength(3);
    expect(batches.map((batch) => batch.map((op) => (op.value as unknown[]).length))).toEqual([
      [100],
      [100],
      [50],
    ]);
    expect(batches[2]).toEqual([
      {
        op: 'add',
        path: 'members',
        value: ids(250, 'u')
          .slice(200)
          .map((value) => ({ value })),
      },
    ]);
  });

  test('given members to remove, then each is removed by a value filter, in batches after the adds', () => {
    const batches = membershipPatchBatches(['new'], ['old1', 'old2', 'old3'], 2);

    expect(batches).toEqual([
      [{ op: 'add', path: 'members', value: [{ value: 'new' }] }],
      [
        { op: 'remove', path: 'members[value eq "old1"]' },
        { op: 'remove', path: 'members[value eq "old2"]' },
      ],
      [{ op: 'remove', path: 'members[value eq "old3"]' }],
    ]);
  });

  test('given a remote id with a quote in it, then the filter quotes it safely', () => {
    expect(membershipPatchBatches([], ['a"b'], 10)).toEqual([
      [{ op: 'remove', path: 'members[value eq "a\\"b"]' }],
    ]);
  });

  test('given no change, then no PATCH at all', () => {
    expect(membershipPatchBatches([], [], 100)).toEqual([]);
  });
});
