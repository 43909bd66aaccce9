import { AsyncLocalStorage } from 'node:async_hooks';
import type { DirectoryApp } from '../directory/model';
import type { RequestPacer } from '../provisioning/targets';
import type { DispatchedIntent, IntentDispatcher, RecordedIntent } from '../shared/intents';
import type { ScimExchange, ScimflowMetrics } from './registry';

/**
 * Counts the intents a process issues: those recorded with a directory change (`handOver`) and those recorded on
 * their own (`dispatch`). The outbox's background deliveries do not pass here, so each intent is counted once.
 */
export function countingDispatcher(dispatcher: IntentDispatcher, metrics: ScimflowMetrics): IntentDispatcher {
  const count = (intents: { intent: string; appId: string }[]) => {
    for (const { intent, appId } of intents) metrics.intentIssued(intent, appId);
  };
  return {
    async dispatch(requests) {
      const dispatched: DispatchedIntent[] = await dispatcher.dispatch(requests);
      count(dispatched);
      return dispatched;
    },
    async handOver(recorded: RecordedIntent[]) {
      // Recorded (committed) already: counted even if the hand-over to Temporal fails and is left to the outbox.
      count(recorded);
      return dispatcher.handOver(recorded);
    },
  };
}

/** A pacer that lets every request through at once (no rate limits), for callers that have none. */
const unpaced: RequestPacer = { send: (_app, _call, request) => request() };

/**
 * SCIM calls counted per app. `ScimClient.onExchange` reports each HTTP exchange (method, path, status, duration)
 * but not the app, which the pacer knows (`Targets` sends every request of an app through it): the pacer wrapper
 * runs the request with the app id in async-local storage, and `onExchange` reads it there.
 */
export function scimInstrumentation(
  metrics: ScimflowMetrics,
  options: { pacer?: RequestPacer; onExchange?: (exchange: ScimExchange) => void } = {},
) {
  const currentApp = new AsyncLocalStorage<string>();
  const inner = options.pacer ?? unpaced;
  const pacer: RequestPacer = {
    send: <T>(app: DirectoryApp, call: { method: string; path: string }, request: () => Promise<T>) =>
      currentApp.run(app.id, () => inner.send(app, call, request)),
  };
  const onExchange = (exchange: ScimExchange) => {
    metrics.scimExchange(currentApp.getStore() ?? 'unknown', exchange);
    options.onExchange?.(exchange);
  };
  return { pacer, onExchange };
}

/** The rate limiter's callbacks (`RateLimiterOptions`) that count its resends and the requests it held back. */
export function rateLimiterCallbacks(metrics: ScimflowMetrics) {
  return {
    onResend: (appId: string) => metrics.scimResent(appId),
    onNotSent: (appId: string) => metrics.scimHeldBack(appId),
  };
}
