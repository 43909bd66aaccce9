import type { ReconciliationReport } from '../../directory/model';
import type { DirectoryStore, ReconciliationRecord } from '../../directory/store';
import type { GroupProvisioning } from '../groups';
import type { Links } from '../links';
import type { Targets } from '../targets';
import type { UserProvisioning } from '../users';
import type { DirectoryView } from './view';

/** One run of `reconcileApp`, named by its workflow id. */
export interface ReconcileRun {
  workflowId: string;
  appId: string;
  dryRun: boolean;
  confirmDeletions: boolean;
}

/** Users and groups with an intent queued or running: a run leaves them to their lane and reports them deferred. */
export interface BusyResources {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

export interface RunHooks {
  busy: BusyResources;
  /** Called after every page or batch with where the run stands (activities heartbeat it). */
  onProgress?: (position: Record<string, unknown>) => void;
}

export type DeletionSafeguard = NonNullable<ReconciliationReport['deletionSafeguard']>;
/** The deletions a run would make, named as its report names them (a `DeletionTally`). */
export type DeletionCounts = Pick<
  DeletionSafeguard,
  'wouldDeprovision' | 'wouldDeleteGroups' | 'wouldRemoveMemberships'
>;

/** What the comparison found: the safeguard, and how many repairs (writes or link updates) it planned. */
export interface Comparison {
  safeguard: DeletionSafeguard;
  planned: number;
}

/** Where a run stands, stored with each page or batch so that a retried activity resumes there. */
export interface Progress {
  /** The list page to read next: its startIndex, and its cursor under cursor paging. */
  compare: { phase: 'users' | 'groups' | 'missing' | 'done'; startIndex: number; cursor?: string };
  repair: { phase: 'users' | 'groups' | 'members' | 'done'; afterKey: string };
  /** What the pages read so far hold: the app's managed users, and the deletions the run would make. */
  tally: DeletionCounts & { appUsers: number };
  requests: ReconciliationReport['requests'];
  safeguard: DeletionSafeguard | null;
}

export function progressOf(record: ReconciliationRecord): Progress {
  const stored = (record.progress ?? {}) as Partial<Progress>;
  return {
    compare: stored.compare ?? { phase: 'users', startIndex: 1 },
    repair: stored.repair ?? { phase: 'users', afterKey: '' },
    // A position stored before groups and memberships were counted reads them as none so far.
    tally: {
      appUsers: 0,
      wouldDeprovision: 0,
      wouldDeleteGroups: 0,
      wouldRemoveMemberships: 0,
      ...stored.tally,
    },
    requests: stored.requests ?? { list: 0, read: 0, write: 0 },
    safeguard: stored.safeguard ?? null,
  };
}

/** Where the compare pass counts the deletions it plans, for the safeguard. */
export interface DeletionCounting {
  tally: Progress['tally'];
  /** Remote ids of the users the run would deprovision: their removals from groups come with that, counted once. */
  leaving: ReadonlySet<string>;
}

/** `call`, counted in the run's requests (`requests` of that kind) each time it is made. */
export function counted<T>(
  progress: Progress,
  kind: keyof Progress['requests'],
  call: () => Promise<T>,
  requests = 1,
): () => Promise<T> {
  return () => {
    progress.requests[kind] += requests;
    return call();
  };
}

/** What a run works with: the directory, the apps' endpoints, and the provisioning of one user or group. */
export interface RunServices {
  store: DirectoryStore;
  targets: Targets;
  users: UserProvisioning;
  groups: GroupProvisioning;
  links: Links;
}

/**
 * One repair activity at work: what it works with, the run, the directory as read when the activity started,
 * its hooks, and where the run stands.
 */
export interface RepairPass {
  services: RunServices;
  run: ReconcileRun;
  view: DirectoryView;
  hooks: RunHooks;
  progress: Progress;
  /** Claims the users and groups the pass creates: the same for every retry of its activity. */
  claimant: string;
}
