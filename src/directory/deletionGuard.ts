import type { ReconcileSettings } from './model';

/**
 * The mass-deletion guard, one definition for every path that deletes in an app: a reconciliation run
 * (`safeguardOf` in provisioning/reconciliation/compare.ts) and an API change (the intent planner). Both count
 * what they would take away as a `DeletionTally` and hold its total against `deletionLimit`.
 */

/** What a change (or a reconciliation run) would take away in one app. */
export interface DeletionTally {
  /** Users deprovisioned (deactivated or deleted, per the app's mode). */
  users: number;
  /** Groups deleted in the app. */
  groups: number;
  /** Memberships removed from remote groups, but for users the same change deprovisions (counted once, as users). */
  memberships: number;
}

export type DeletionThreshold = ReconcileSettings['deletionThreshold'];

/** At most this many deletions never need confirmation, however small the app: one leaver is not a mass deletion. */
export const DEFAULT_DELETION_MINIMUM = 5;

/**
 * The most deletions one change (API call or reconciliation run) may make in an app without confirmation: the
 * threshold's share of the app's users, never fewer than its `minimum`, and at most its `count` (so `count: 0`
 * asks for every deletion to be confirmed). Entra's accidental-deletion guard, applied to every path that deletes.
 */
export function deletionLimit(threshold: DeletionThreshold, appUsers: number): number {
  const share = Math.floor((appUsers * threshold.percent) / 100);
  return Math.min(threshold.count, Math.max(share, threshold.minimum));
}

export const totalDeletions = (tally: DeletionTally): number =>
  tally.users + tally.groups + tally.memberships;
