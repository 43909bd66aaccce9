import { Command, CommanderError } from 'commander';
import { ApiError, ScimflowClient } from './apiClient';
import { addAssignmentCommands } from './commands/assignments';
import { appsCommand } from './commands/apps';
import { groupsCommand } from './commands/groups';
import { importCommand } from './commands/importCommand';
import { operationsCommand } from './commands/operations';
import { reconcileCommand } from './commands/reconcile';
import { usersCommand } from './commands/users';
import { resolveConnection } from './config';
import { type Context, EXIT, UsageError } from './context';
import { type Output, processOutput } from './output';

export { EXIT, UsageError };

/** The `scimflow` command: `run(argv)` answers the exit code. */
export async function run(argv: string[], out: Output = processOutput): Promise<number> {
  const program = new Command('scimflow')
    .description(
      'scimflow from the command line: the directory, its apps, reconciliation, import and operations',
    )
    .option('--api <url>', 'the API (default: $SCIMFLOW_API_URL, else http://127.0.0.1:3000)')
    .option(
      '--token <token>',
      'the API token (default: $SCIMFLOW_API_TOKEN, else the file ./.data/api-token)',
    )
    .option('--json', 'print the API answer as one JSON document (no tables, no progress bars)');

  let code: number = EXIT.ok;
  const ctx = (): Context => {
    const options = program.opts<{ api?: string; token?: string; json?: boolean }>();
    const connection = resolveConnection(options);
    if (!connection.token) {
      throw new UsageError(
        `no API token: pass --token, set SCIMFLOW_API_TOKEN, or run where \`npm start\` keeps it (${connection.tokenSource})`,
      );
    }
    return {
      client: new ScimflowClient({ baseUrl: connection.apiUrl, token: connection.token }),
      json: Boolean(options.json),
      out,
      exit: (answered) => {
        code = answered;
      },
    };
  };
  program.addCommand(appsCommand(ctx));
  program.addCommand(usersCommand(ctx));
  program.addCommand(groupsCommand(ctx));
  addAssignmentCommands(program, ctx);
  program.addCommand(reconcileCommand(ctx));
  program.addCommand(importCommand(ctx));
  program.addCommand(operationsCommand(ctx));

  // Commands built apart (addCommand) inherit no settings: every one throws instead of exiting, and writes to `out`.
  const configure = (command: Command) => {
    command
      .showHelpAfterError(`(${commandPath(command)} --help for usage)`)
      .exitOverride()
      .configureOutput({
        writeOut: (text) => out.out(text.replace(/\n$/, '')),
        writeErr: (text) => out.err(text.replace(/\n$/, '')),
      });
    command.commands.forEach(configure);
  };
  configure(program);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    return reportError(error, program.opts<{ json?: boolean }>().json === true, out);
  }
}

const commandPath = (command: Command): string =>
  command.parent ? `${commandPath(command.parent)} ${command.name()}` : command.name();

function reportError(error: unknown, json: boolean, out: Output): number {
  if (error instanceof CommanderError) {
    // --help and --version end here too, having printed what was asked.
    if (['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code)) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return EXIT.usage;
  }
  if (error instanceof UsageError) {
    out.err(`scimflow: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof ApiError) {
    if (json) out.out(JSON.stringify(error.body, null, 2));
    const status = error.status ? ` (${error.status} ${error.code})` : '';
    const lines = [`error: ${error.message}${status}`];
    const { issues, problems, apps } = error.body as {
      issues?: { path: string; message: string }[];
      problems?: string[];
      apps?: { appName: string; total: number; limit: number }[];
    };
    for (const issue of issues ?? []) lines.push(`  ${issue.path}: ${issue.message}`);
    for (const problem of problems ?? []) lines.push(`  ${problem}`);
    for (const app of apps ?? [])
      lines.push(`  ${app.appName}: ${app.total} deletion(s), at most ${app.limit} without confirmation`);
    if (error.status === 401)
      lines.push('  (the API refused the token: pass --token or set SCIMFLOW_API_TOKEN)');
    if (error.code === 'deletions-need-confirmation')
      lines.push('  (repeat with --confirm-deletions to go ahead)');
    out.err(lines.join('\n'));
    return EXIT.failed;
  }
  out.err(`error: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT.failed;
}
