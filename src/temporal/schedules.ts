import {
  ScheduleAlreadyRunning,
  type Client,
  type ScheduleDescription,
  ScheduleNotFoundError,
  type ScheduleOptionsStartWorkflowAction,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
} from '@temporalio/client';
import type { DirectoryApp } from '../directory/model';
import type { ReconcileInput } from '../shared/intents';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from '../shared/searchAttributes';

/** The shape of the `reconcileApp` workflow, named by type so this module stays below the workflows. */
type ReconcileWorkflow = (input: ReconcileInput) => Promise<unknown>;

/** The Temporal Schedule of an app's reconciliation; its runs are named `reconcile:<appId>-<time>`. */
export const reconcileScheduleId = (appId: string) => `reconcile:${appId}`;

/** What the API answers about an app's schedule. */
export interface ReconcileScheduleView {
  scheduleId: string;
  appId: string;
  intervalMinutes: number | null;
  paused: boolean;
  note: string | null;
  nextRunAt: string | null;
  recentRuns: { workflowId: string; scheduledAt: string }[];
  runningRuns: string[];
}

/**
 * One Temporal Schedule per app (`reconcile:<appId>`), created, updated and deleted with the app: every
 * `reconcile.intervalMinutes` it starts `reconcileApp`, skipping a firing while the previous run still runs.
 * Runs carry the custom search attributes, so they show with the app's other runs in the Temporal UI.
 *
 * The firings of an app are offset by the app's creation time, so the first comes one interval after the app
 * was created and the apps of one deployment do not all reconcile at the same minute.
 *
 * A change Temporal could not take (it was unreachable) is remembered and applied by `applyPending`, which the
 * API calls with its outbox loop; `ensure` at start-up creates any schedule that is missing.
 */
export class ReconcileSchedules {
  /** App id → the schedule change that has not reached Temporal yet. */
  private readonly pending = new Map<string, 'upsert' | 'remove'>();

  constructor(
    private readonly client: Client,
    private readonly options: {
      taskQueue: string;
      /** Per call, so an API request does not hang while Temporal is down. */
      deadlineMs?: number;
      onError?: (appId: string, error: unknown) => void;
    },
  ) {}

  /**
   * Creates the app's schedule, or brings it in line with the app's settings (a paused one stays paused). Every API
   * process ensures the schedules at start-up: when two create the same one at once, Temporal keeps one (the
   * schedule id is the app's) and the other updates it.
   */
  async upsert(app: DirectoryApp): Promise<boolean> {
    return this.attempt(app.id, 'upsert', async () => {
      const handle = this.client.schedule.getHandle(reconcileScheduleId(app.id));
      const update = () =>
        handle.update((previous) => ({
          ...previous,
          spec: specOf(app),
          action: actionOf(app, this.options.taskQueue),
          policies: policiesOf(app),
        }));
      try {
        await update();
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
        try {
          await this.client.schedule.create({
            scheduleId: reconcileScheduleId(app.id),
            spec: specOf(app),
            action: actionOf(app, this.options.taskQueue),
            policies: policiesOf(app),
            typedSearchAttributes: [{ key: scimAppId, value: app.id }],
          });
        } catch (raced) {
          if (!(raced instanceof ScheduleAlreadyRunning)) throw raced;
          await update();
        }
      }
    });
  }

  async remove(appId: string): Promise<boolean> {
    return this.attempt(appId, 'remove', async () => {
      try {
        await this.client.schedule.getHandle(reconcileScheduleId(appId)).delete();
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      }
    });
  }

  /** Pauses (or resumes) the app's schedule, creating it first if it went missing. Throws when Temporal fails. */
  async setPaused(app: DirectoryApp, paused: boolean, note: string): Promise<ReconcileScheduleView> {
    const handle = this.client.schedule.getHandle(reconcileScheduleId(app.id));
    await this.withDeadline(async () => {
      try {
        await (paused ? handle.pause(note) : handle.unpause(note));
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
        if (!(await this.upsert(app))) throw error;
        await (paused ? handle.pause(note) : handle.unpause(note));
      }
    });
    return (await this.describe(app.id)) as ReconcileScheduleView;
  }

  /**
   * Starts one run now, with the same search attributes as the scheduled ones, named
   * `reconcile:<appId>:<time>` (scheduled runs are `reconcile:<appId>-<time>`). Answers its workflow id.
   */
  async runNow(app: DirectoryApp, options: { dryRun: boolean; confirmDeletions: boolean }): Promise<string> {
    const workflowId = `${reconcileScheduleId(app.id)}:${new Date().toISOString()}`;
    const { type: _type, workflowType, args: _args, ...action } = actionOf(app, this.options.taskQueue);
    await this.withDeadline(() =>
      this.client.workflow.start<ReconcileWorkflow>(workflowType as string, {
        ...action,
        workflowId,
        args: [{ appId: app.id, ...options }],
        staticSummary: `${options.dryRun ? 'dry run: ' : ''}reconciliation of ${app.name}`,
      }),
    );
    return workflowId;
  }

  async describe(appId: string): Promise<ReconcileScheduleView | null> {
    try {
      return viewOf(
        appId,
        await this.withDeadline(() => this.client.schedule.getHandle(reconcileScheduleId(appId)).describe()),
      );
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return null;
      throw error;
    }
  }

  /** Makes sure every app has its schedule as its settings say (at start-up; one call per app). */
  async ensure(apps: DirectoryApp[]): Promise<void> {
    for (const app of apps) await this.upsert(app);
  }

  /** Applies the changes Temporal could not take earlier; the app is read again, as it may have changed. */
  async applyPending(getApp: (appId: string) => Promise<DirectoryApp | null>): Promise<void> {
    for (const [appId, change] of [...this.pending]) {
      const app = change === 'upsert' ? await getApp(appId) : null;
      if (app) await this.upsert(app);
      else await this.remove(appId);
    }
  }

  private async attempt(appId: string, change: 'upsert' | 'remove', action: () => Promise<void>) {
    try {
      await this.withDeadline(action);
      if (this.pending.get(appId) === change) this.pending.delete(appId);
      return true;
    } catch (error) {
      this.pending.set(appId, change);
      this.options.onError?.(appId, error);
      return false;
    }
  }

  private withDeadline<T>(action: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + (this.options.deadlineMs ?? 5_000), action);
  }
}

function specOf(app: DirectoryApp): ScheduleSpec {
  const every = app.reconcile.intervalMinutes * 60_000;
  const offset = Math.floor((Date.parse(app.createdAt) % every) / 1000) * 1000;
  return { intervals: [{ every, offset }] };
}

function policiesOf(app: DirectoryApp) {
  // A firing missed while Temporal was down is taken late only within one interval; SKIP never stacks runs.
  return {
    overlap: ScheduleOverlapPolicy.SKIP,
    catchupWindow: app.reconcile.intervalMinutes * 60_000,
  };
}

function actionOf(
  app: DirectoryApp,
  taskQueue: string,
): ScheduleOptionsStartWorkflowAction<ReconcileWorkflow> {
  return {
    type: 'startWorkflow',
    workflowType: 'reconcileApp',
    workflowId: reconcileScheduleId(app.id),
    taskQueue,
    args: [{ appId: app.id }],
    staticSummary: `scheduled reconciliation of ${app.name}`,
    typedSearchAttributes: [
      { key: scimAppId, value: app.id },
      { key: scimResourceType, value: 'App' },
      { key: scimResourceId, value: app.id },
      { key: scimIntent, value: 'reconcileApp' },
    ],
  };
}

function viewOf(appId: string, description: ScheduleDescription): ReconcileScheduleView {
  const every = description.spec.intervals?.[0]?.every;
  return {
    scheduleId: description.scheduleId,
    appId,
    intervalMinutes: typeof every === 'number' ? every / 60_000 : null,
    paused: description.state.paused,
    note: description.state.note ?? null,
    nextRunAt: description.info.nextActionTimes[0]?.toISOString() ?? null,
    recentRuns: description.info.recentActions.map((run) => ({
      workflowId: run.action.workflow.workflowId,
      scheduledAt: run.scheduledAt.toISOString(),
    })),
    runningRuns: description.info.runningActions.map((run) => run.workflow.workflowId),
  };
}
