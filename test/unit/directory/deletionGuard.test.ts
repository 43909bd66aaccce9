import { openTestStore } from '../../support/testStore';
import {
  DEFAULT_DELETION_MINIMUM,
  deletionLimit,
  totalDeletions,
} from '../../../src/directory/deletionGuard';
import {
  appInputSchema,
  mergeReconcileSettings,
  type ReconcileSettings,
  reconcileSettingsSchema,
} from '../../../src/directory/model';

describe('deletionLimit: how many deletions one change may make in an app without confirmation', () => {
  const threshold = (fields: { percent?: number; count?: number; minimum?: number } = {}) =>
    reconcileSettingsSchema.parse({ deletionThreshold: fields }).deletionThreshold;

  test('given the default threshold (10 %, 500, minimum 5), then a large app may lose 10 % of its users', () => {
    expect(deletionLimit(threshold(), 1_000)).toBe(100);
    expect(deletionLimit(threshold(), 1_009)).toBe(100);
  });

  test('given a small app, then the minimum holds: one leaver of five users needs no confirmation', () => {
    expect(deletionLimit(threshold(), 5)).toBe(DEFAULT_DELETION_MINIMUM);
    expect(deletionLimit(threshold(), 0)).toBe(DEFAULT_DELETION_MINIMUM);
    expect(deletionLimit(threshold(), 59)).toBe(5);
    expect(deletionLimit(threshold(), 60)).toBe(6);
  });

  test('given a very large app, then count caps the share', () => {
    expect(deletionLimit(threshold(), 100_000)).toBe(500);
  });

  test('given a count below the minimum, then count wins: count 0 asks for every deletion to be confirmed', () => {
    expect(deletionLimit(threshold({ count: 0 }), 1_000)).toBe(0);
    expect(deletionLimit(threshold({ count: 2 }), 3)).toBe(2);
  });

  test('given minimum 0, then the share alone decides, as before the minimum existed', () => {
    expect(deletionLimit(threshold({ minimum: 0 }), 4)).toBe(0);
    expect(deletionLimit(threshold({ percent: 50, minimum: 0 }), 4)).toBe(2);
  });

  test('a deletion is a user, a group or a membership: the tally adds them up', () => {
    expect(totalDeletions({ users: 2, groups: 1, memberships: 3 })).toBe(6);
  });
});

describe('the deletion threshold as stored and patched', () => {
  test('given an app stored before minimum existed, when it is read, then minimum is the default', async () => {
    const store = await openTestStore();
    try {
      const input = appInputSchema.parse({
        name: 'Old',
        baseUrl: 'https://old.example.com/scim/v2',
        auth: { type: 'bearer', token: 't' },
      });
      // The settings as an earlier version wrote them: createApp stores what it is given.
      const old = { ...input.reconcile, deletionThreshold: { percent: 20, count: 100 } };
      const app = await store.createApp({ ...input, reconcile: old as ReconcileSettings });

      expect((await store.getApp(app.id))?.reconcile.deletionThreshold).toEqual({
        percent: 20,
        count: 100,
        minimum: DEFAULT_DELETION_MINIMUM,
      });
      const patched = await store.updateApp(app.id, { reconcile: { deletionThreshold: { percent: 30 } } });
      expect(patched?.reconcile.deletionThreshold).toEqual({ percent: 30, count: 100, minimum: 5 });
    } finally {
      await store.close();
    }
  });

  test('given a PATCH that names only minimum, then percent and count are kept', () => {
    const current = reconcileSettingsSchema.parse({ deletionThreshold: { percent: 20, count: 100 } });

    const merged = mergeReconcileSettings(current, { deletionThreshold: { minimum: 1 } });

    expect(merged.deletionThreshold).toEqual({ percent: 20, count: 100, minimum: 1 });
  });
});
