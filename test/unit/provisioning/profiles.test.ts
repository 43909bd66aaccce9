import { appInputSchema, type DirectoryUser } from '../../../src/directory/model';
import { proposeProfile } from '../../../src/provisioning/connectionCheck';
import { desiredScimUser } from '../../../src/provisioning/mapping';
import { effectiveProfile, profileConflicts, profiles } from '../../../src/provisioning/profiles';
import { SCIM_SCHEMAS } from '../../../src/scim/schemas';

const ENTERPRISE = SCIM_SCHEMAS.enterpriseUser;
const COST_CENTER = 'urn:acme:params:scim:schemas:extension:acme:2.0:User:costCenter';

const alice: DirectoryUser = {
  id: 'u-alice',
  userName: 'alice@example.com',
  name: { givenName: 'Alice', familyName: 'Liddell' },
  emails: [
    { value: 'alice@home.example', type: 'home' },
    { value: 'alice@example.com', type: 'work', primary: true },
  ],
  department: 'R&D',
  active: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

const app = (settings: Record<string, unknown>) =>
  appInputSchema.safeParse({
    name: 'Acme',
    baseUrl: 'https://scim.example.com/v2',
    auth: { type: 'bearer', token: 'token' },
    ...settings,
  });

describe('attribute mapping', () => {
  test('given a mapping that moves department to a custom schema, then the user carries it there and declares the schema', () => {
    const parsed = app({
      attributeMapping: { [`${ENTERPRISE}:department`]: null, [COST_CENTER]: 'department' },
    });
    expect(parsed.success).toBe(true);
    const { mapping } = effectiveProfile(parsed.data!);

    const user = desiredScimUser(alice, {}, mapping);

    expect(user[ENTERPRISE]).toBeUndefined();
    expect(user['urn:acme:params:scim:schemas:extension:acme:2.0:User']).toEqual({ costCenter: 'R&D' });
    expect(user.schemas).toContain('urn:acme:params:scim:schemas:extension:acme:2.0:User');
  });

  test('given the AWS profile, then only the primary e-mail is sent', () => {
    const user = desiredScimUser(alice, {}, profiles['aws-iam-identity-center'].mapping);

    expect(user.emails).toEqual([{ value: 'alice@example.com', type: 'work', primary: true }]);
  });

  test.each([
    [{ nickName: 'emails' }, 'multi-valued'],
    [{ emails: 'title' }, 'multi-valued'],
    [{ userName: 'displayName' }, 'userName is always'],
    [
      { 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize': 'title' },
      'no attribute shoeSize',
    ],
    [{ 'x-custom': 'title' }, 'not a core User attribute'],
    [{ title: 'manager' }, 'manager maps only'],
  ])('given the mapping %j, then it is refused: %s', (attributeMapping, message) => {
    const parsed = app({ attributeMapping });

    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain(message);
  });
});

describe('profiles', () => {
  test('given an app of its own batch size, then it wins over the profile', () => {
    expect(
      effectiveProfile({ profile: 'aws-iam-identity-center', membershipBatchSize: 50 }).membershipBatchSize,
    ).toBe(50);
    expect(effectiveProfile({ profile: 'aws-iam-identity-center' }).membershipBatchSize).toBe(100);
  });

  test('given settings an app cannot honour, then each is named', () => {
    const problems = profileConflicts({
      profile: 'okta-compatible',
      deprovisionMode: 'delete',
      userMatchAttribute: 'email',
      provisioning: { roles: true },
    });

    expect(problems).toHaveLength(2);
    expect(problems.join(' ')).toMatch(/never delete users.*cannot filter users on e-mail/);
    expect(
      profileConflicts({
        profile: 'slack',
        deprovisionMode: 'deactivate',
        userMatchAttribute: 'userName',
        provisioning: { permissions: true },
      }),
    ).toEqual([expect.stringContaining('accept neither roles nor entitlements')]);
  });

  test.each([
    ['https://api.slack.com/scim/v2', {}, 'slack'],
    ['https://scim.eu-west-1.amazonaws.com/abc123/scim/v2', {}, 'aws-iam-identity-center'],
    ['https://api.github.com/scim/v2/enterprises/acme', {}, 'github-emu'],
    ['https://app.example.com/scim', { patch: { supported: false } }, 'put-only'],
    ['https://app.example.com/scim', { documentationUri: 'https://help.okta.com/scim' }, 'okta-compatible'],
    ['https://app.example.com/scim', { patch: { supported: true } }, 'generic'],
  ])('given %s and %j, then %s is proposed', (baseUrl, config, expected) => {
    const proposal = proposeProfile(baseUrl, config, { externalId: 'works', email: 'works' });

    expect(proposal.profile).toBe(expected);
    expect(proposal.reasons.length).toBeGreaterThan(0);
  });
});
