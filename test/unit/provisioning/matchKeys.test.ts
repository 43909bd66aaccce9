import { directoryMatchKey, remoteMatchKeys } from '../../../src/provisioning/mapping';

describe('pairing remote users with directory users by the match attribute', () => {
  const directory = (userName: string, email?: string) => ({
    id: 'local-1',
    userName,
    emails: email ? [{ value: email, primary: true }] : undefined,
  });

  test('userName pairs as the directory compares names: case, width and composition do not matter', () => {
    const key = directoryMatchKey('userName', directory('Ｒené@Example.com'));
    expect(remoteMatchKeys('userName', { userName: 'RENE\u0301@example.com' })).toEqual([key]);
    expect(remoteMatchKeys('userName', { userName: 'rene@example.com' })).not.toEqual([key]);
  });

  test('e-mail ignores case only; externalId is exact', () => {
    expect(remoteMatchKeys('email', { userName: 'x', emails: [{ value: 'Ann@Example.com' }] })).toEqual([
      directoryMatchKey('email', directory('ann', 'ann@example.com')),
    ]);
    expect(remoteMatchKeys('externalId', { userName: 'x', externalId: 'Local-1' })).not.toEqual([
      directoryMatchKey('externalId', directory('ann')),
    ]);
  });
});
