import { type ActivityOptions, proxyActivities } from '@temporalio/workflow';
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

/** Reads and writes of the directory store only. */
export const directory = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry });

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
  return proxyActivities<Activities>({
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
