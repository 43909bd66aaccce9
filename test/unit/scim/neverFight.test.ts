import {
  activeOperation,
  adoptedState,
  appManagedAfterWrite,
  defaultUserRules,
  membershipPatchBatches,
  userPatchOperations,
  userWriteRules,
  valueFingerprint,
} from '../../../src/scim/diff';
import { SCIM_SCHEMAS } from '../../../src/scim/schemas';

const rules = defaultUserRules();
const displayName = rules.attributes.find((attribute) => attribute.path === 'displayName')!;

/** Bob as the directory has him: no displayName, no formatted name (the app derives both). */
const desiredBob = {
  schemas: [SCIM_SCHEMAS.user],
  userName: 'bob@example.com',
  externalId: 'bob',
  name: { givenName: 'Bob', familyName: 'Stone' },
  active: true,
  emails: [{ value: 'bob@example.com', type: 'work' }],
};

/** Bob as an app that derives displayName and name.formatted holds him. */
const bobInTheApp = {
  ...structuredClone(desiredBob),
  id: 'r-bob',
  displayName: 'Bob Stone',
  name: { givenName: 'Bob', familyName: 'Stone', formatted: 'Bob Stone' },
  emails: [{ value: 'BOB@example.com', type: 'Work', primary: true }],
  active: 'True',
};

describe('never fight the app: what a diff leaves alone', () => {
  test('given an app that derives displayName and name.formatted scimflow never wrote, then nothing is removed', () => {
    expect(userPatchOperations(bobInTheApp, desiredBob, rules, { written: desiredBob })).toEqual([]);
  });

  test('given scimflow wrote a displayName the directory no longer has, then it is removed', () => {
    const written = { ...desiredBob, displayName: 'Bobby' };

    expect(userPatchOperations(bobInTheApp, desiredBob, rules, { written })).toEqual([
      { op: 'remove', path: 'displayName' },
    ]);
  });

  test('given a userName, e-mail type and lone primary flag that differ only in case or presence, then they match', () => {
    const app = { ...bobInTheApp, userName: 'BOB@Example.com' };

    expect(userPatchOperations(app, desiredBob, rules, { written: desiredBob })).toEqual([]);
  });

  test('given two e-mails, then which one is primary still counts', () => {
    const emails = [
      { value: 'bob@example.com', type: 'work', primary: true },
      { value: 'bob@home.example', type: 'home' },
    ];
    const app = {
      ...bobInTheApp,
      emails: [
        { ...emails[0], primary: false },
        { ...emails[1], primary: true },
      ],
    };

    expect(
      userPatchOperations(app, { ...desiredBob, emails }, rules, { written: desiredBob }).map((o) => o.path),
    ).toEqual(['emails']);
  });

  test('given a value the app was seen to keep its own way, then it is not written again; a new value is', () => {
    const desired = { ...desiredBob, displayName: 'B. Stone' };
    const appManaged = new Map([['displayName', valueFingerprint(displayName, desired)]]);

    expect(userPatchOperations(bobInTheApp, desired, rules, { written: desired, appManaged })).toEqual([]);
    expect(
      userPatchOperations(bobInTheApp, { ...desired, displayName: 'Robert Stone' }, rules, {
        written: desired,
        appManaged,
      }),
    ).toEqual([{ op: 'replace', path: 'displayName', value: 'Robert Stone' }]);
  });

  test('given a remote user adopted with attributes the directory lacks, then its state leaves them out, so they are never removed', () => {
    const adopted = adoptedState(bobInTheApp, desiredBob, rules);

    expect(adopted).not.toHaveProperty('displayName');
    expect(adopted).toHaveProperty('name', { givenName: 'Bob', familyName: 'Stone' });
    expect(userPatchOperations(adopted, desiredBob, rules)).toEqual([]);
  });
});

describe('appManagedAfterWrite: what the app did with what was written', () => {
  test('given the app answered a create with a derived displayName and dropped the title, then both are found, with no value recorded', () => {
    const desired = { ...desiredBob, displayName: 'Bobby', title: 'Welder' };
    const answer = { ...bobInTheApp, displayName: 'Bob Stone' };

    const findings = appManagedAfterWrite(answer, desired, rules, 'created');

    expect(findings.map(({ attribute, reason }) => [attribute, reason])).toEqual([
      ['displayName', 'changed'],
      ['title', 'ignored'],
    ]);
    expect(JSON.stringify(findings)).not.toMatch(/Bob|Welder/);
  });

  test('given a removal the app did not honour, then it is found as kept; attributes not written are not judged', () => {
    const findings = appManagedAfterWrite(bobInTheApp, desiredBob, rules, ['name.formatted']);

    expect(findings).toEqual([{ attribute: 'name.formatted', reason: 'kept', wanted: 'none' }]);
  });

  test('given userName, externalId or active differ after a write, then they are never taken as app-managed', () => {
    const answer = { ...bobInTheApp, userName: 'other', externalId: 'x', active: false };

    expect(appManagedAfterWrite(answer, desiredBob, rules, ['userName', 'externalId', 'active'])).toEqual([]);
  });
});

describe('dialect details', () => {
  test('given the value-list removal form, then members leave in one operation with their values', () => {
    expect(membershipPatchBatches([], ['a', 'b'], 100, 'value-list')).toEqual([
      [{ op: 'remove', path: 'members', value: [{ value: 'a' }, { value: 'b' }] }],
    ]);
    expect(membershipPatchBatches([], ['a'], 100)).toEqual([
      [{ op: 'remove', path: 'members[value eq "a"]' }],
    ]);
  });

  test('given 101 members and a batch of 100, then two PATCHes', () => {
    const ids = Array.from({ length: 101 }, (_, i) => `u${i}`);

    expect(membershipPatchBatches(ids, [], 100).map((batch) => (batch[0].value as unknown[]).length)).toEqual(
      [100, 1],
    );
  });

  test("given Okta's form, then active is replaced path-less with an object value", () => {
    expect(activeOperation(false, 'value-object')).toEqual({ op: 'replace', value: { active: false } });
    expect(activeOperation(false, 'path')).toEqual({ op: 'replace', path: 'active', value: false });
  });

  test('given a custom schema attribute in the mapping, then it is compared and written by its full path', () => {
    const path = 'urn:acme:params:scim:schemas:extension:acme:2.0:User:costCenter';
    const custom = userWriteRules([path], { core: true, roles: false, entitlements: false });
    const desired = { ...desiredBob, [path.slice(0, path.lastIndexOf(':'))]: { costCenter: 'CC-7' } };

    expect(userPatchOperations(bobInTheApp, desired, custom, { written: desiredBob })).toEqual([
      { op: 'replace', path, value: 'CC-7' },
    ]);
  });
});
