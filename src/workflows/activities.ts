import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  CancelledFailure,
  type LocalActivityOptions,
  patched,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  TemporalFailure,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { Activities } from '../activities';

/**
 * The one retry policy of every scimflow activity. Transient failures (network, 408, 429, 5xx) are retried with
 * backoff, so a target that is down for a while delays its lanes instead of losing the change; final failures
 * (a 4xx the target will repeat, a record deleted meanwhile) are raised non-retryable by the activities.
 */
export const retry: ActivityOptions['retry'] = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
};

/**
 * The workflow code version of 0.2 (one `patched()` id for all of its changes, so a run records one marker):
 * a step's first attempt runs as a local activity (`localFirst`), and `provisionUser` looks the user up in its
 * plan. Runs begun before keep the 0.1 code path.
 */
export const VERSION_0_2 = 'scimflow-0.2';

/**
 * Each call's first attempt runs as a local activity, in the worker that runs the workflow task: no activity task
 * goes through the server, so a simple intent is one workflow task and a handful of history events instead of a
 * workflow task and three events per step. A first attempt that fails for a reason worth retrying (the target
 * unreachable, a 5xx, a 429, a timeout) is handed to an ordinary activity with `options` — retried with backoff,
 * visible as pending (the operations API reports it `retrying`), and carried on by another worker if this one
 * dies. A final failure is thrown as it is. Runs begun before 0.2 keep ordinary activities throughout.
 */
function localFirst(options: ActivityOptions): Activities {
  const remote = proxyActivities<Activities>(options);
  const localOptions: LocalActivityOptions = {
    startToCloseTimeout: options.startToCloseTimeout,
    retry: { maximumAttempts: 1 },
    summary: options.summary,
  };
  const local = proxyLocalActivities<Activities>(localOptions);
  return new Proxy({} as Activities, {
    get(_, name: string & keyof Activities) {
      return async (...args: unknown[]) => {
        const call = (activities: Activities) =>
          (activities[name] as (...args: unknown[]) => Promise<unknown>)(...args);
        if (!patched(VERSION_0_2)) return call(remote);
        try {
          return await call(local);
        } catch (thrown) {
          const error = asActivityFailure(thrown, name);
          const wait = retryDelayAfter(error);
          if (wait === null) throw error;
          await sleep(wait);
          return call(remote);
        }
      };
    },
  });
}

/**
 * A local activity's failure reaches the workflow as the activity's own error; wrapped as an ordinary activity's
 * is, so that the workflows read both the same way (`isScimFailure`, `recordingFailure`).
 */
function asActivityFailure(error: unknown, activityType: string): unknown {
  if (error instanceof ActivityFailure || !(error instanceof TemporalFailure)) return error;
  return new ActivityFailure(
    error.message,
    activityType,
    undefined,
    'MAXIMUM_ATTEMPTS_REACHED',
    undefined,
    error,
  );
}

/** How long to wait before retrying a failed first attempt as an ordinary activity; null when it is final. */
function retryDelayAfter(error: unknown): Duration | null {
  if (!(error instanceof ActivityFailure) || error.cause instanceof CancelledFailure) return null;
  const cause = error.cause;
  if (cause instanceof ApplicationFailure) {
    if (cause.nonRetryable) return null;
    // A 429's Retry-After, as the retry policy would honour it (see `adapt`).
    const retryAfterMs = (cause.details?.[0] as { retryAfterMs?: number } | undefined)?.retryAfterMs;
    if (typeof retryAfterMs === 'number' && retryAfterMs > 0) return retryAfterMs;
  }
  return retry?.initialInterval ?? '1s';
}

/**
 * Reads and writes of the directory store only. Ordinary activities, never local: an intent's plan (what it
 * decides to do) must be in the history before its first write. A local step's result is recorded only when its
 * workflow task completes, so a worker that died during a local write would have the plan read again on retry —
 * and a plan that now says "skip" (the user came back meanwhile) would leave that write done but unrecorded. With
 * the plan recorded, the retry redoes the write under the same decision, as it always did.
 */
export const directory = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry });

/** A plan that needs one SCIM call (a look-up), recorded before any write for the reason above. */
export function planning(summary: string) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '1m',
    scheduleToCloseTimeout: '1h',
    retry,
    summary,
  });
}

/** Starting other intents, through the outbox and their lanes. */
export const intents = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry });

/** Waiting for other intents to close, heartbeating how many have. */
export const intentOutcomes = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '1m',
  retry,
});

/**
 * One SCIM call, labelled in the Temporal UI with what it does (e.g. `POST /Users alice@example.com`), for up to
 * an hour of retries. An attempt makes at most a few requests of at most 15 s each (the SCIM client's timeout), so
 * a minute bounds it; it is also how long a change waits when the worker running it dies.
 */
export function scim(summary: string) {
  return localFirst({
    startToCloseTimeout: '1m',
    scheduleToCloseTimeout: '1h',
    retry,
    summary,
  });
}

/**
 * Many SCIM calls in one activity (e.g. provisioning a large group's members); heartbeats show progress, and a
 * worker that dies is noticed within the heartbeat timeout (a heartbeat follows every object, each a few requests
 * of at most 15 s).
 */
export function bulkScim(summary: string) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '2h',
    heartbeatTimeout: '1m',
    retry,
    summary,
  });
}

/** Bulk work of a whole app (reconciliation, import): heartbeating, at most three hours with its retries. */
export function appWide(summary: string) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '2h',
    scheduleToCloseTimeout: '3h',
    heartbeatTimeout: '1m',
    retry,
    summary,
  });
}
