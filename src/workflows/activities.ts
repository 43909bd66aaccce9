import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';

// Transient failures (network, 408, 429, 5xx) are retried with backoff for up to an hour per call, so a
// target that is down for a while delays its lanes instead of losing the change.
const retry: ActivityOptions['retry'] = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
};

/** Reads and writes of the directory store only. */
export const directory = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry });

/** One SCIM call, labelled in the Temporal UI with what it does (e.g. `POST /Users alice@example.com`). */
export function scim(summary: string) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '2m',
    scheduleToCloseTimeout: '1h',
    retry,
    summary,
  });
}

/** Many SCIM calls in one activity (e.g. provisioning a large group's members); heartbeats show progress. */
export function bulkScim(summary: string) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '2h',
    heartbeatTimeout: '2m',
    retry,
    summary,
  });
}
