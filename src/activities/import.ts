import { Context } from '@temporalio/activity';
import type { DirectoryStore } from '../directory/store';
import {
  AppImport,
  type ImportProgress,
  type ImportReport,
  type ImportRequest,
} from '../provisioning/import';
import type { Targets } from '../provisioning/targets';
import type { IntentDispatcher } from '../shared/intents';
import { adapt } from './adapt';

export interface ImportActivityDependencies {
  store: DirectoryStore;
  targets: Targets;
  /** Starts the intents of users who enter an app's scope by joining a group; required to import. */
  dispatcher?: IntentDispatcher;
}

/**
 * The activity of `importFromApp`: one bulk activity that pages through the app, heartbeating its position, so
 * that a retry resumes at its page. The engine (provisioning/import.ts) does the work.
 */
export function createImportActivities({ store, targets, dispatcher }: ImportActivityDependencies) {
  return {
    /** Imports the app's users and groups into the directory, page by page; a retry resumes at its page. */
    importUsersAndGroups: adapt(async (request: ImportRequest): Promise<ImportReport> => {
      if (!dispatcher) throw new Error('this worker was started without an intent dispatcher');
      const appImport = new AppImport(store, targets, dispatcher);
      return appImport.run(request, {
        resume: Context.current().info.heartbeatDetails as ImportProgress | undefined,
        onProgress: (progress) => Context.current().heartbeat(progress),
      });
    }),
  };
}
