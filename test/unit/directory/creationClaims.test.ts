import { openTestStore } from '../../support/testStore';
import { appInputSchema } from '../../../src/directory/model';
import type { DirectoryStore, LinkKey } from '../../../src/directory/store';
import { CreationInProgressError } from '../../../src/provisioning/errors';
import { Links, userKey } from '../../../src/provisioning/links';
import { ScimError } from '../../../src/scim/errors';

const MINUTE = 60_000;
/** The SCIM client's default request timeout, as an app has it. */
const DEFAULT_TIMEOUT_MS = 15_000;

describe('creation claims: one creator per directory object and app, in the store', () => {
  let store: DirectoryStore;
  let alice: LinkKey;
  beforeEach(async () => {
    store = await openTestStore();
    const app = await store.createApp(
      appInputSchema.parse({
        name: 'Acme',
        baseUrl: 'https://acme.example.com/scim/v2',
        auth: { type: 'bearer', token: 't' },
      }),
    );
    alice = userKey(app.id, 'alice');
  });
  afterEach(() => store.close());

  test('given nobody has claimed Alice, when the intent claims her, then it may create her without looking first; the group provisioning that asks next is told who holds her and until when', async () => {
    const claim = await store.claimCreation(alice, 'provisionUser/1', MINUTE);
    const other = await store.claimCreation(alice, 'createGroup/3', MINUTE);

    expect(claim).toEqual({ outcome: 'claimed', lookFirst: false });
    expect(other).toMatchObject({ outcome: 'busy', claimant: 'provisionUser/1' });
    const expiresAt = Date.parse((other as { expiresAt: string }).expiresAt);
    expect(expiresAt).toBeGreaterThan(Date.now() + MINUTE - 5_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + MINUTE);
  });

  test('given the intent claimed Alice, when its retry claims her again, then it takes its claim over at once and looks her up first (its POST may have landed)', async () => {
    await store.claimCreation(alice, 'provisionUser/1', MINUTE);

    expect(await store.claimCreation(alice, 'provisionUser/1', MINUTE)).toEqual({
      outcome: 'claimed',
      lookFirst: true,
    });
    expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toMatchObject({ outcome: 'busy' });
  });

  test('given an attempt of the intent in another process holds Alice, when a retry here claims her, then it waits until that claim has been quiet long enough for a POST on the wire to have landed, and then takes it over and looks first', async () => {
    await store.claimCreation(alice, 'provisionUser/1#process-a', MINUTE);
    const sibling = (quietMs: number) => ({ prefix: 'provisionUser/1#', quietMs });

    expect(
      await store.claimCreation(alice, 'provisionUser/1#process-b', MINUTE, sibling(MINUTE)),
    ).toMatchObject({ outcome: 'busy', claimant: 'provisionUser/1#process-a' });
    expect(
      await store.claimCreation(alice, 'createGroup/3#process-b', MINUTE, {
        prefix: 'createGroup/3#',
        quietMs: 0,
      }),
    ).toMatchObject({ outcome: 'busy' });
    expect(await store.claimCreation(alice, 'provisionUser/1#process-b', MINUTE, sibling(0))).toEqual({
      outcome: 'claimed',
      lookFirst: true,
    });
  });

  test('given a claim on Alice that has expired, when another claims her, then it takes the claim and looks her up first', async () => {
    await store.claimCreation(alice, 'provisionUser/1', 0);

    expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toEqual({
      outcome: 'claimed',
      lookFirst: true,
    });
    expect(await store.claimCreation(alice, 'provisionUser/1', MINUTE)).toMatchObject({
      outcome: 'busy',
      claimant: 'createGroup/3',
    });
  });

  test('given the holder linked Alice (with or without releasing its claim), when another claims her, then it is told her remote id and creates nothing', async () => {
    await store.claimCreation(alice, 'provisionUser/1', MINUTE);
    await store.saveLink({ ...alice, remoteId: 'remote-alice', lastPushed: null, status: 'synced' });

    expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toEqual({
      outcome: 'linked',
      remoteId: 'remote-alice',
    });
    await store.releaseCreationClaim(alice, 'provisionUser/1');
    expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toEqual({
      outcome: 'linked',
      remoteId: 'remote-alice',
    });
  });

  test('given a link without a remote id (a failed create), when Alice is claimed, then she is to be created', async () => {
    await store.saveLink({ ...alice, remoteId: null, status: 'failed', lastError: 'refused' });

    expect(await store.claimCreation(alice, 'provisionUser/1', MINUTE)).toEqual({
      outcome: 'claimed',
      lookFirst: false,
    });
  });

  test('given the intent holds Alice, when another claimant releases her, then the claim stays; when the holder releases her, then the next claimant has her, without looking first', async () => {
    await store.claimCreation(alice, 'provisionUser/1', MINUTE);

    await store.releaseCreationClaim(alice, 'createGroup/3');
    expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toMatchObject({ outcome: 'busy' });

    await store.releaseCreationClaim(alice, 'provisionUser/1');
    expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toEqual({
      outcome: 'claimed',
      lookFirst: false,
    });
  });

  test('given twenty claimants at once, then exactly one holds Alice', async () => {
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.claimCreation(alice, `claimant/${i}`, MINUTE)),
    );

    expect(claims.filter((claim) => claim.outcome === 'claimed')).toHaveLength(1);
    expect(claims.filter((claim) => claim.outcome === 'busy')).toHaveLength(19);
  });

  describe('creating under a claim (Links.createOnce)', () => {
    const steps = (calls: string[], outcome: { found?: string; fail?: Error } = {}) => ({
      linked: (remoteId: string) => {
        calls.push('linked');
        return remoteId;
      },
      find: async () => {
        calls.push('find');
        return outcome.found ?? null;
      },
      create: async () => {
        calls.push('POST');
        if (outcome.fail) throw outcome.fail;
        await store.saveLink({ ...alice, remoteId: 'remote-alice', lastPushed: null, status: 'synced' });
        return 'remote-alice';
      },
    });

    test('given nobody holds Alice, when she is created, then she is POSTed and linked, and the claim is let go', async () => {
      const calls: string[] = [];

      expect(
        await new Links(store).createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps(calls)),
      ).toBe('remote-alice');
      expect(calls).toEqual(['POST']);
      expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toEqual({
        outcome: 'linked',
        remoteId: 'remote-alice',
      });
    });

    test('given another holds Alice, when she is created, then nothing is sent and the creation is in progress (retryable)', async () => {
      await store.claimCreation(alice, 'createGroup/3', MINUTE);
      const calls: string[] = [];

      const creating = new Links(store).createOnce(
        alice,
        'provisionUser/1',
        DEFAULT_TIMEOUT_MS,
        steps(calls),
      );

      await expect(creating).rejects.toBeInstanceOf(CreationInProgressError);
      await expect(creating).rejects.toThrow(/User alice is being created in app .* by createGroup\/3/);
      expect(calls).toEqual([]);
    });

    test('given an earlier attempt whose POST timed out just now, when the retry creates Alice, then it sends nothing yet: the POST may still land, so the creation is in progress (retryable)', async () => {
      const links = new Links(store);
      const timeout = new ScimError('transient', 'POST /Users failed: ECONNABORTED');
      await expect(
        links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps([], { fail: timeout })),
      ).rejects.toBe(timeout);
      const calls: string[] = [];

      await expect(
        links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps(calls)),
      ).rejects.toBeInstanceOf(CreationInProgressError);
      expect(calls).toEqual([]);
    });

    test('given an earlier attempt whose POST timed out long enough ago, when the retry creates Alice, then it finds her and sends no second POST', async () => {
      const links = new Links(store, 0);
      const timeout = new ScimError('transient', 'POST /Users failed: ECONNABORTED');
      await expect(
        links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps([], { fail: timeout })),
      ).rejects.toBe(timeout);
      const calls: string[] = [];

      expect(
        await links.createOnce(
          alice,
          'provisionUser/1',
          DEFAULT_TIMEOUT_MS,
          steps(calls, { found: 'remote-alice-1' }),
        ),
      ).toBe('remote-alice-1');
      expect(calls).toEqual(['find']);
    });

    test('given two attempts of the same step at once in this process (a local attempt that timed out with its POST on the wire, and its retry), when both create Alice, then one POST is sent and the retry adopts what it created', async () => {
      const links = new Links(store);
      const calls: string[] = [];
      let answer!: () => void;
      const slowTarget = new Promise<void>((resolve) => (answer = resolve));
      const late = links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, {
        ...steps(calls),
        create: async () => {
          calls.push('POST');
          await slowTarget;
          await store.saveLink({ ...alice, remoteId: 'remote-alice', lastPushed: null, status: 'synced' });
          return 'remote-alice';
        },
      });
      await new Promise((resolve) => setTimeout(resolve, 20));

      const retry = links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps(calls));
      await new Promise((resolve) => setTimeout(resolve, 20));
      answer();

      expect(await Promise.all([late, retry])).toEqual(['remote-alice', 'remote-alice']);
      expect(calls).toEqual(['POST', 'linked']);
    });

    test('given the target answers 429 (it took nothing), then the claim is let go: the retry creates her at once, without looking first', async () => {
      const links = new Links(store);
      const limited = new ScimError('rate-limited', 'POST /Users answered 429', { status: 429 });
      await expect(
        links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps([], { fail: limited })),
      ).rejects.toBe(limited);
      const calls: string[] = [];

      expect(await links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps(calls))).toBe(
        'remote-alice',
      );
      expect(calls).toEqual(['POST']);
    });

    test('given the target answered 503 (the POST is over at the app, but may have created her), when the retry creates Alice, then it takes the claim over at once and looks her up first; a gateway 504 keeps the claim until it is quiet', async () => {
      const links = new Links(store);
      const unavailable = new ScimError('transient', 'POST /Users answered 503', { status: 503 });
      await expect(
        links.createOnce(alice, 'provisionUser/1', DEFAULT_TIMEOUT_MS, steps([], { fail: unavailable })),
      ).rejects.toBe(unavailable);
      const calls: string[] = [];

      expect(
        await links.createOnce(
          alice,
          'provisionUser/1',
          DEFAULT_TIMEOUT_MS,
          steps(calls, { found: 'remote-alice-1' }),
        ),
      ).toBe('remote-alice-1');
      expect(calls).toEqual(['find']);

      const bob = userKey(alice.appId, 'bob');
      const gatewayTimeout = new ScimError('transient', 'POST /Users answered 504', { status: 504 });
      await expect(
        links.createOnce(bob, 'provisionUser/2', DEFAULT_TIMEOUT_MS, steps([], { fail: gatewayTimeout })),
      ).rejects.toBe(gatewayTimeout);
      await expect(
        links.createOnce(bob, 'provisionUser/2', DEFAULT_TIMEOUT_MS, steps([])),
      ).rejects.toBeInstanceOf(CreationInProgressError);
    });

    test('given the target refuses Alice for good (400), then the claim is let go: the next creator need not look first', async () => {
      const refused = new ScimError('rejected', 'POST /Users answered 400', { status: 400 });
      await expect(
        new Links(store).createOnce(
          alice,
          'provisionUser/1',
          DEFAULT_TIMEOUT_MS,
          steps([], { fail: refused }),
        ),
      ).rejects.toBe(refused);

      expect(await store.claimCreation(alice, 'createGroup/3', MINUTE)).toEqual({
        outcome: 'claimed',
        lookFirst: false,
      });
    });
  });
});
