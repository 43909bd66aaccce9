/** `scimflow import <app>`: adopt an app's users (and groups) into the directory. */
import { Command } from 'commander';
import type { ImportReport, OperationView } from '../apiClient';
import { type Context, EXIT } from '../context';
import { integer } from '../options';
import { fields, print, table } from '../output';
import { closedStatuses, sleep, startProgress } from '../progress';
import { resolveApp } from '../resolve';

function printImport(c: Context, operation: OperationView): void {
  c.out.out(
    fields([
      ['operation', operation.workflowId],
      ['status', operation.status],
      ['error', operation.error],
      ['Temporal UI', operation.uiUrl],
    ]),
  );
  const report = operation.result as ImportReport | undefined;
  if (!report?.counts) return;
  c.out.out(`\n${report.detail}\n`);
  c.out.out(table(['COUNT', 'N'], Object.entries(report.counts)));
  c.out.out(
    `already linked: ${report.alreadyLinked.users} user(s), ${report.alreadyLinked.groups} group(s); import group: ` +
      (report.importGroup ? `${report.importGroup.displayName} (${report.importGroup.id})` : '-'),
  );
  if (report.errors.length) {
    c.out.out('');
    c.out.out(
      table(
        ['TYPE', 'NAME', 'REMOTE ID', 'ERROR'],
        report.errors.map((e) => [e.resourceType, e.name, e.remoteId, e.error]),
      ),
    );
  }
}

export function importCommand(ctx: () => Context): Command {
  return new Command('import')
    .description("adopt an app's users (and groups) into the directory")
    .argument('<app>', 'by id or name')
    .option('--no-users', 'leave its users')
    .option('--groups', 'import its groups too')
    .option('--no-memberships', "leave the groups' members")
    .option('--wait', 'wait for the import and print its report')
    .option('--interval <ms>', 'poll every this many milliseconds while waiting', integer(100), 1000)
    .action(
      async (
        ref: string,
        options: { users: boolean; groups?: boolean; memberships: boolean; wait?: boolean; interval: number },
      ) => {
        const c = ctx();
        const app = await resolveApp(c, ref);
        const started = await c.client.apps.import(app.id, {
          users: options.users,
          groups: Boolean(options.groups),
          memberships: options.memberships,
        });
        if (!options.wait) {
          if (c.json) return print(c, started);
          c.out.out(
            `import started: ${started.workflowId} (follow: scimflow operations show ${started.workflowId})`,
          );
          return;
        }
        const progress = startProgress('import', { enabled: !c.json });
        let operation: OperationView;
        try {
          for (;;) {
            operation = await c.client.operations.get(started.workflowId);
            if (closedStatuses.has(operation.status)) break;
            progress.update(
              operation.status,
              operation.status === 'retrying'
                ? `attempt ${operation.attempt}: ${operation.lastError ?? ''}`
                : '',
            );
            await sleep(options.interval);
          }
        } finally {
          progress.stop();
        }
        if (c.json) print(c, operation);
        else printImport(c, operation);
        c.exit(operation.status === 'completed' ? EXIT.ok : EXIT.failed);
      },
    );
}
