/** `scimflow apps …`: the apps scimflow provisions to. */
import { deprovisionModeSchema, userMatchAttributeSchema } from '../../directory/model';
import { profileNames } from '../../directory/targetSettings';
import { Command, Option } from 'commander';
import type { AppInput } from '../apiClient';
import { type Context, EXIT, UsageError } from '../context';
import { defined, integer, readJsonFile } from '../options';
import { fields, list, print, printChange, table } from '../output';
import { resolveApp } from '../resolve';

const appFlags = (command: Command) =>
  command
    .option('--file <path>', 'a JSON body (docs/api.md, "Apps"); "-" reads stdin; flags override its fields')
    .option('--name <name>', 'the app name')
    .option('--base-url <url>', 'SCIM base URL, e.g. https://acme.example.com/scim/v2')
    .option('--bearer-token <token>', 'authenticate to the app with this bearer token')
    .option('--basic-username <username>', 'authenticate to the app with HTTP Basic (with --basic-password)')
    .option('--basic-password <password>', 'the HTTP Basic password')
    .addOption(new Option('--profile <profile>', 'the kind of app').choices(profileNames))
    .addOption(
      new Option('--deprovision-mode <mode>', 'what leaving users get').choices(
        deprovisionModeSchema.options,
      ),
    )
    .addOption(
      new Option('--match-attribute <attribute>', 'how existing remote users are found').choices(
        userMatchAttributeSchema.options,
      ),
    )
    .option('--allow-private-network', 'let baseUrl be a private address')
    .option('--timeout-ms <ms>', 'per-request timeout towards the app', integer(100, 120_000))
    .option(
      '--reconcile-interval <minutes>',
      'minutes between scheduled reconciliations',
      integer(1, 10_080),
    );

interface AppFlagValues {
  file?: string;
  name?: string;
  baseUrl?: string;
  bearerToken?: string;
  basicUsername?: string;
  basicPassword?: string;
  profile?: string;
  deprovisionMode?: string;
  matchAttribute?: string;
  allowPrivateNetwork?: boolean;
  timeoutMs?: number;
  reconcileInterval?: number;
}

function appBody(flags: AppFlagValues): Record<string, unknown> {
  const body: Record<string, unknown> = flags.file ? readJsonFile(flags.file) : {};
  if (flags.bearerToken && (flags.basicUsername || flags.basicPassword)) {
    throw new UsageError('give either --bearer-token or --basic-username/--basic-password, not both');
  }
  if (flags.bearerToken) body.auth = { type: 'bearer', token: flags.bearerToken };
  if (flags.basicUsername || flags.basicPassword) {
    if (!flags.basicUsername || !flags.basicPassword) {
      throw new UsageError('--basic-username and --basic-password go together');
    }
    body.auth = { type: 'basic', username: flags.basicUsername, password: flags.basicPassword };
  }
  if (flags.reconcileInterval !== undefined) {
    body.reconcile = { ...(body.reconcile as object | undefined), intervalMinutes: flags.reconcileInterval };
  }
  return {
    ...body,
    ...defined({
      name: flags.name,
      baseUrl: flags.baseUrl,
      profile: flags.profile,
      deprovisionMode: flags.deprovisionMode,
      userMatchAttribute: flags.matchAttribute,
      allowPrivateNetwork: flags.allowPrivateNetwork,
      timeoutMs: flags.timeoutMs,
    }),
  };
}

export function appsCommand(ctx: () => Context): Command {
  const apps = new Command('apps').description('the apps scimflow provisions to');
  apps
    .command('list')
    .description('list the apps')
    .action(async () => {
      const c = ctx();
      const answer = await c.client.apps.list();
      if (c.json) return print(c, answer);
      c.out.out(
        answer.items.length
          ? table(
              ['ID', 'NAME', 'PROFILE', 'GROUPS', 'BASE URL'],
              answer.items.map((a) => [a.id, a.name, a.profile, a.assignedGroupIds.length, a.baseUrl]),
            )
          : 'no apps',
      );
    });
  apps
    .command('show <app>')
    .description('show one app (by id or name)')
    .action(async (ref: string) => {
      const c = ctx();
      const app = await resolveApp(c, ref);
      if (c.json) return print(c, app);
      const switches = Object.entries(app.provisioning ?? {})
        .filter(([, on]) => on)
        .map(([name]) => name);
      c.out.out(
        fields([
          ['id', app.id],
          ['name', app.name],
          ['baseUrl', app.baseUrl],
          ['profile', app.profile],
          ['auth', app.authType],
          ['deprovisionMode', app.deprovisionMode],
          ['userMatchAttribute', app.userMatchAttribute],
          ['provisioning', list(switches)],
          ['reconcile every', app.reconcile ? `${app.reconcile.intervalMinutes} min` : undefined],
          ['assigned groups', list(app.assignedGroupIds)],
          ['permissions', list(app.permissionKeys)],
          ['created', app.createdAt],
          ['updated', app.updatedAt],
        ]),
      );
    });
  appFlags(apps.command('create').description('connect an app (from flags and/or a JSON file)')).action(
    async (flags: AppFlagValues) => {
      const c = ctx();
      const body = appBody(flags);
      const missing = ['name', 'baseUrl', 'auth'].filter((key) => body[key] === undefined);
      if (missing.length) {
        throw new UsageError(
          `apps create needs ${missing.join(', ')} (--name, --base-url, --bearer-token or --basic-*, or --file)`,
        );
      }
      const app = await c.client.apps.create(body as AppInput);
      printChange(c, app, `created app ${app.name} (${app.id}), profile ${app.profile}`);
    },
  );
  appFlags(
    apps.command('update <app>').description("change an app's settings (PATCH: only what is given)"),
  ).action(async (ref: string, flags: AppFlagValues) => {
    const c = ctx();
    const body = appBody(flags);
    if (!Object.keys(body).length) throw new UsageError('apps update: nothing to change');
    const app = await c.client.apps.update((await resolveApp(c, ref)).id, body);
    printChange(c, app, `updated app ${app.name} (${app.id})`);
  });
  apps
    .command('test <app>')
    .description('check that scimflow can reach and authenticate to the app (exit 1 if it cannot)')
    .action(async (ref: string) => {
      const c = ctx();
      const report = await c.client.apps.testConnection((await resolveApp(c, ref)).id);
      if (c.json) print(c, report);
      else {
        c.out.out(
          fields([
            ['ok', report.ok],
            ['reachable', report.reachable],
            ['authenticated', report.authenticated],
            ['users', report.usersEndpoint?.totalResults],
            [
              'filters',
              report.filters && `externalId ${report.filters.externalId}, email ${report.filters.email}`,
            ],
            ['proposed profile', report.proposedProfile?.profile],
            ['why', list(report.proposedProfile?.reasons)],
            [
              'error',
              report.error &&
                `${report.error.step}${report.error.status ? ` ${report.error.status}` : ''}: ${report.error.message}`,
            ],
          ]),
        );
      }
      c.exit(report.ok ? EXIT.ok : EXIT.failed);
    });
  apps
    .command('delete <app>')
    .description('remove the app and all scimflow keeps about it (nothing is written to the app)')
    .action(async (ref: string) => {
      const c = ctx();
      const app = await c.client.apps.delete((await resolveApp(c, ref)).id);
      printChange(c, app, `deleted app ${app.name} (${app.id})`);
    });
  return apps;
}
