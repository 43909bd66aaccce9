/** `scimflow users …`: the directory users. */
import { Command } from 'commander';
import type { UserInput, UserRecord } from '../apiClient';
import { type Context, UsageError } from '../context';
import { collect, defined, integer, readJsonFile } from '../options';
import { fields, list, print, printChange, table } from '../output';
import { resolveUser } from '../resolve';

const userFlags = (command: Command) =>
  command
    .option('--file <path>', 'a JSON body (docs/api.md, "Users"); "-" reads stdin; flags override its fields')
    .option('--given-name <name>')
    .option('--family-name <name>')
    .option('--display-name <name>')
    .option('--email <address>', 'an e-mail (repeatable; the first is the primary one)', collect)
    .option('--title <title>')
    .option('--department <department>')
    .option('--employee-number <number>')
    .option('--external-id <id>');

interface UserFlagValues {
  file?: string;
  userName?: string;
  givenName?: string;
  familyName?: string;
  displayName?: string;
  email?: string[];
  title?: string;
  department?: string;
  employeeNumber?: string;
  externalId?: string;
  active?: boolean;
  confirmDeletions?: boolean;
}

function userBody(flags: UserFlagValues): Record<string, unknown> {
  const body: Record<string, unknown> = flags.file ? readJsonFile(flags.file) : {};
  if (flags.givenName !== undefined || flags.familyName !== undefined) {
    body.name = {
      ...(body.name as object | undefined),
      ...defined({ givenName: flags.givenName, familyName: flags.familyName }),
    };
  }
  if (flags.email) {
    body.emails = flags.email.map((value, i) => ({ value, type: 'work', primary: i === 0 }));
  }
  return {
    ...body,
    ...defined({
      userName: flags.userName,
      displayName: flags.displayName,
      title: flags.title,
      department: flags.department,
      employeeNumber: flags.employeeNumber,
      externalId: flags.externalId,
      active: flags.active,
    }),
  };
}

const usersTable = (users: UserRecord[]) =>
  table(
    ['ID', 'USERNAME', 'DISPLAY NAME', 'ACTIVE', 'GROUPS'],
    users.map((u) => [u.id, u.userName, u.displayName, u.active, u.groupIds?.length ?? 0]),
  );

export function usersCommand(ctx: () => Context): Command {
  const users = new Command('users').description('the directory users');
  users
    .command('list')
    .description('list users, oldest first')
    .option('--offset <n>', 'skip this many', integer(0), 0)
    .option('--limit <n>', 'at most this many (1–500)', integer(1, 500), 50)
    .action(async (options: { offset: number; limit: number }) => {
      const c = ctx();
      const page = await c.client.users.list(options);
      if (c.json) return print(c, page);
      c.out.out(page.items.length ? usersTable(page.items) : 'no users');
      if (page.total > page.offset + page.items.length) {
        c.out.out(
          `(${page.offset + 1}–${page.offset + page.items.length} of ${page.total}; --offset for more)`,
        );
      }
    });
  users
    .command('show <user>')
    .description('show one user (by id or userName)')
    .action(async (ref: string) => {
      const c = ctx();
      const user = await c.client.users.get((await resolveUser(c, ref)).id);
      if (c.json) return print(c, user);
      c.out.out(
        fields([
          ['id', user.id],
          ['userName', user.userName],
          ['name', [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' ')],
          ['displayName', user.displayName],
          ['emails', list(user.emails?.map((e) => `${e.value}${e.primary ? ' (primary)' : ''}`))],
          ['active', user.active],
          ['title', user.title],
          ['department', user.department],
          ['externalId', user.externalId],
          ['groups', list(user.groupIds)],
          ['roles', list(user.roles)],
          ['permissions', list(user.permissions)],
          ['created', user.createdAt],
          ['updated', user.updatedAt],
        ]),
      );
    });
  userFlags(users.command('create <userName>').description('create a user'))
    .option('--inactive', 'create it deactivated')
    .action(async (userName: string, flags: UserFlagValues & { inactive?: boolean }) => {
      const c = ctx();
      const body = userBody({ ...flags, userName, active: flags.inactive ? false : undefined });
      const user = await c.client.users.create(body as UserInput);
      printChange(c, user, `created user ${user.userName} (${user.id})`);
    });
  userFlags(users.command('update <user>').description('change a user (PATCH: only what is given)'))
    .option('--user-name <userName>', 'rename')
    .option('--active', 'activate')
    .option('--inactive', 'deactivate (deprovisions it from its apps)')
    .option(
      '--confirm-deletions',
      'go ahead when it deprovisions more than an app allows without confirmation',
    )
    .action(async (ref: string, flags: UserFlagValues & { inactive?: boolean }) => {
      const c = ctx();
      if (flags.active && flags.inactive) throw new UsageError('--active or --inactive, not both');
      const body = userBody({ ...flags, active: flags.inactive ? false : flags.active ? true : undefined });
      if (!Object.keys(body).length) throw new UsageError('users update: nothing to change');
      const id = (await resolveUser(c, ref)).id;
      const user = await c.client.users.update(id, body, { confirmDeletions: flags.confirmDeletions });
      printChange(c, user, `updated user ${user.userName} (${user.id})`);
    });
  users
    .command('delete <user>')
    .description('delete a user (deprovisions it from its apps)')
    .option(
      '--confirm-deletions',
      'go ahead when it deprovisions more than an app allows without confirmation',
    )
    .action(async (ref: string, options: { confirmDeletions?: boolean }) => {
      const c = ctx();
      const user = await c.client.users.delete((await resolveUser(c, ref)).id, options);
      printChange(c, user, `deleted user ${user.userName} (${user.id})`);
    });
  return users;
}
