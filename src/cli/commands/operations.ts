/** `scimflow operations …`: the provisioning work directory changes started. */
import { Command, Option } from 'commander';
import { intentNames } from '../../shared/intents';
import type { OperationView } from '../apiClient';
import { type Context, UsageError } from '../context';
import { integer } from '../options';
import { type Cell, fields, print, table } from '../output';
import { closedStatuses, sleep } from '../progress';
import { resolveApp, resolveGroup, resolveUser } from '../resolve';

const listedStatuses = ['running', 'retrying', 'completed', 'failed', 'canceled', 'terminated', 'timed-out'];

interface OperationFlags {
  app?: string;
  user?: string;
  group?: string;
  resource?: string;
  intent?: (typeof intentNames)[number];
  status?: 'running' | 'retrying' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed-out';
  limit: number;
}

const operationFilters = (command: Command, defaultLimit: number) =>
  command
    .option('--app <app>', 'of this app (id or name)')
    .option('--user <user>', 'about this user (id or userName)')
    .option('--group <group>', 'about this group (id or displayName)')
    .option('--resource <id>', 'about this resource id')
    .addOption(new Option('--intent <intent>', 'of this intent').choices([...intentNames]))
    .addOption(new Option('--status <status>', 'in this status').choices(listedStatuses))
    .option('--limit <n>', 'at most this many, newest first (1–500)', integer(1, 500), defaultLimit);

async function operationFilter(c: Context, flags: OperationFlags) {
  if ([flags.user, flags.group, flags.resource].filter(Boolean).length > 1) {
    throw new UsageError('--user, --group and --resource each name the resource: give one');
  }
  const resourceId = flags.user
    ? (await resolveUser(c, flags.user)).id
    : flags.group
      ? (await resolveGroup(c, flags.group)).id
      : flags.resource;
  return {
    appId: flags.app ? (await resolveApp(c, flags.app)).id : undefined,
    resourceId,
    intent: flags.intent,
    status: flags.status,
    limit: flags.limit,
  };
}

const operationDetail = (o: OperationView): string | undefined =>
  o.status === 'retrying'
    ? `attempt ${o.attempt ?? '?'} of ${o.retryingActivity ?? '?'}: ${o.lastError ?? ''}`
    : (o.error ?? o.result?.detail);

const operationRow = (o: OperationView): Cell[] => [
  o.startTime ?? '',
  o.status,
  o.intent,
  `${o.resourceType} ${o.resourceId}`,
  o.workflowId,
  operationDetail(o),
];
const operationHeaders = ['STARTED', 'STATUS', 'INTENT', 'RESOURCE', 'WORKFLOW ID', 'DETAIL'];

export function operationsCommand(ctx: () => Context): Command {
  const operations = new Command('operations').description('the provisioning work directory changes started');
  operationFilters(operations.command('list').description('list operations, newest first'), 50).action(
    async (flags: OperationFlags) => {
      const c = ctx();
      const answer = await c.client.operations.list(await operationFilter(c, flags));
      if (c.json) return print(c, answer);
      c.out.out(
        answer.items.length ? table(operationHeaders, answer.items.map(operationRow)) : 'no operations',
      );
    },
  );
  operations
    .command('show <workflowId>')
    .description('one operation, with its result or error')
    .action(async (workflowId: string) => {
      const c = ctx();
      const o = await c.client.operations.get(workflowId);
      if (c.json) return print(c, o);
      c.out.out(
        fields([
          ['workflowId', o.workflowId],
          ['intent', o.intent],
          ['resource', `${o.resourceType} ${o.resourceId}`],
          ['status', o.status],
          ['queued in', o.queuedIn],
          ['started', o.startTime],
          ['closed', o.closeTime],
          ['outcome', o.result?.outcome],
          ['detail', operationDetail(o)],
          ['Temporal UI', o.uiUrl],
        ]),
      );
    });
  operationFilters(
    operations
      .command('follow')
      .description(
        'print operations as they start and change, until Ctrl-C (--json: one JSON object a line)',
      ),
    100,
  )
    .option('--interval <ms>', 'poll every this many milliseconds', integer(100), 2000)
    .option('--until-idle', 'stop once none is running or retrying (two polls in a row)')
    .action(async (flags: OperationFlags & { interval: number; untilIdle?: boolean }) => {
      const c = ctx();
      const filter = await operationFilter(c, flags);
      const seen = new Map<string, string>();
      let idlePolls = 0;
      let stopping = false;
      process.once('SIGINT', () => {
        stopping = true;
      });
      if (!c.json) c.out.out(table(operationHeaders, []));
      while (!stopping) {
        const { items } = await c.client.operations.list(filter);
        // Oldest first, so the lines read in the order things happened.
        for (const o of [...items].reverse()) {
          const state = `${o.status}|${o.attempt ?? ''}`;
          if (seen.get(o.workflowId) === state) continue;
          seen.set(o.workflowId, state);
          c.out.out(c.json ? JSON.stringify(o) : table(operationHeaders, [operationRow(o)]).split('\n')[1]);
        }
        const busy = items.some((o) => !closedStatuses.has(o.status));
        idlePolls = busy ? 0 : idlePolls + 1;
        if (flags.untilIdle && idlePolls >= 2) break;
        await sleep(flags.interval);
      }
    });
  return operations;
}
