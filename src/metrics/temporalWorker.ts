import { ApplicationFailure, CancelledFailure, SdkComponent, TemporalFailure } from '@temporalio/common';
import type { WorkflowInfo } from '@temporalio/workflow';
import { type InjectedSinks, Runtime, type WorkerOptions } from '@temporalio/worker';
import type { ReconciliationReport } from '../directory/model';
import type { ScimflowMetrics } from './registry';

type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
const LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** The app id of an intent's run: its workflow id is `<intent>:<appId>:<resourceId>:<n>` (`intentWorkflowId`). */
const appIdOf = (workflowId: string) => workflowId.split(':')[1] ?? 'unknown';

function secondsSince(start: Date | undefined): number {
  const at = start ? new Date(start).getTime() : Number.NaN;
  return Number.isNaN(at) ? -1 : (Date.now() - at) / 1000;
}

/**
 * Whether the error a workflow ended with fails its run. The SDK's rule: a `TemporalFailure` (ApplicationFailure,
 * ActivityFailure, …) fails the run; any other error fails the workflow task, which Temporal retries. The error
 * reaches the sink copied out of the workflow thread (structured clone), which keeps its stack but not its class:
 * the class is read from the stack's first line. A failure rebuilt from history has the stack of where it was
 * thrown, or none — a failure too.
 */
function failsTheRun(error: unknown): boolean {
  if (error instanceof TemporalFailure) return !(error instanceof CancelledFailure);
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const thrown = /^(\w+)(:|$)/.exec(stack)?.[1];
  return !thrown || (thrown.endsWith('Failure') && thrown !== 'CancelledFailure');
}

/**
 * Intent completions and failures, seen in the worker that runs them, from the workflow runtime's own lifecycle
 * log ("Workflow completed", "Workflow failed"), which every workflow sends through the logger sink whatever
 * its code and whatever bundle it was built in. Taking that sink over (its deprecated name `defaultWorkerLogger`
 * is the one a worker may register) needs no workflow interceptor — which a prebuilt bundle would have to be
 * built with — and no change to the workflows' code or histories. Sinks are not called while a history is
 * replayed, so a run is counted once (again only if the workflow task that completed it failed and ran anew).
 * Every message still goes to the runtime's logger as before.
 */
function lifecycleSink(metrics: ScimflowMetrics): InjectedSinks<Record<string, never>> {
  const observe = (info: WorkflowInfo, message: string, attrs: Record<string, unknown> | undefined) => {
    if (message === 'Workflow completed') {
      metrics.intentClosed(
        info.workflowType,
        appIdOf(info.workflowId),
        'completed',
        secondsSince(info.startTime),
      );
    } else if (message === 'Workflow failed') {
      if (failsTheRun(attrs?.error)) {
        metrics.intentClosed(
          info.workflowType,
          appIdOf(info.workflowId),
          'failed',
          secondsSince(info.startTime),
        );
      }
    }
  };
  const forward = (level: LogLevel) => ({
    fn(info: WorkflowInfo, message: string, attrs?: Record<string, unknown>) {
      Runtime.instance().logger[level](message, {
        sdkComponent: SdkComponent.workflow,
        taskQueue: info.taskQueue,
        ...attrs,
      });
      try {
        observe(info, message, attrs);
      } catch {
        // Metrics never break logging.
      }
    },
  });
  return {
    defaultWorkerLogger: Object.fromEntries(LEVELS.map((level) => [level, forward(level)])),
  } as unknown as InjectedSinks<Record<string, never>>;
}

function failureType(error: unknown): string | null {
  if (error instanceof CancelledFailure) return null;
  if (error instanceof ApplicationFailure)
    return error.nonRetryable ? null : (error.type ?? 'ApplicationFailure');
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * What a worker adds for metrics: the lifecycle sink (intents completed and failed, their duration) and an
 * activity interceptor (retryable failures, reconciliation reports as `finishReconciliation` returns them).
 */
export function workerMetricsOptions(metrics: ScimflowMetrics): Pick<WorkerOptions, 'sinks'> & {
  activityInterceptors: NonNullable<WorkerOptions['interceptors']>['activity'];
} {
  return {
    sinks: lifecycleSink(metrics),
    activityInterceptors: [
      (context) => ({
        inbound: {
          async execute(input, next) {
            const { activityType } = context.info;
            try {
              const result = await next(input);
              if (activityType === 'finishReconciliation' && result) {
                metrics.reconciliationFinished(result as ReconciliationReport);
              }
              return result;
            } catch (error) {
              const type = failureType(error);
              if (type) metrics.activityRetry(activityType, type);
              throw error;
            }
          },
        },
      }),
    ],
  };
}
