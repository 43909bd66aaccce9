/** `scimflow groups …`: the directory groups. */
import { Command } from 'commander';
import type { Context } from '../context';
import { collect, integer } from '../options';
import { fields, list, print, printChange, table } from '../output';
import { resolveGroup, resolveUser } from '../resolve';

export function groupsCommand(ctx: () => Context): Command {
  const groups = new Command('groups').description('the directory groups');
  groups
    .command('list')
    .description('list groups, oldest first')
    .option('--offset <n>', 'skip this many', integer(0), 0)
    .option('--limit <n>', 'at most this many (1–500)', integer(1, 500), 50)
    .action(async (options: { offset: number; limit: number }) => {
      const c = ctx();
      const page = await c.client.groups.list(options);
      if (c.json) return print(c, page);
      c.out.out(
        page.items.length
          ? table(
              ['ID', 'DISPLAY NAME', 'MEMBERS', 'APPS'],
              page.items.map((g) => [g.id, g.displayName, g.memberIds.length, g.appIds?.length ?? 0]),
            )
          : 'no groups',
      );
      if (page.total > page.offset + page.items.length) {
        c.out.out(
          `(${page.offset + 1}–${page.offset + page.items.length} of ${page.total}; --offset for more)`,
        );
      }
    });
  groups
    .command('show <group>')
    .description('show one group (by id or displayName)')
    .action(async (ref: string) => {
      const c = ctx();
      const group = await resolveGroup(c, ref);
      if (c.json) return print(c, group);
      c.out.out(
        fields([
          ['id', group.id],
          ['displayName', group.displayName],
          ['members', group.memberIds.length],
          ['assigned to apps', list(group.appIds)],
          ['created', group.createdAt],
          ['updated', group.updatedAt],
        ]),
      );
      if (group.memberIds.length) c.out.out(`member ids:\n  ${group.memberIds.join('\n  ')}`);
    });
  groups
    .command('create <displayName>')
    .description('create a group')
    .option('--member <user>', 'a member, by id or userName (repeatable)', collect)
    .action(async (displayName: string, options: { member?: string[] }) => {
      const c = ctx();
      const memberIds = [];
      for (const ref of options.member ?? []) memberIds.push((await resolveUser(c, ref)).id);
      const group = await c.client.groups.create({ displayName, ...(memberIds.length ? { memberIds } : {}) });
      printChange(
        c,
        group,
        `created group ${group.displayName} (${group.id}) with ${group.memberIds.length} member(s)`,
      );
    });
  groups
    .command('add-member <group> <user>')
    .description('add a member')
    .action(async (groupRef: string, userRef: string) => {
      const c = ctx();
      const [group, user] = [await resolveGroup(c, groupRef), await resolveUser(c, userRef)];
      const answer = await c.client.groups.addMember(group.id, user.id);
      printChange(c, answer, `${user.userName} is a member of ${answer.displayName}`);
    });
  groups
    .command('remove-member <group> <user>')
    .description('remove a member')
    .option(
      '--confirm-deletions',
      'go ahead when it deprovisions more than an app allows without confirmation',
    )
    .action(async (groupRef: string, userRef: string, options: { confirmDeletions?: boolean }) => {
      const c = ctx();
      const [group, user] = [await resolveGroup(c, groupRef), await resolveUser(c, userRef)];
      const answer = await c.client.groups.removeMember(group.id, user.id, options);
      printChange(c, answer, `${user.userName} is not a member of ${answer.displayName}`);
    });
  groups
    .command('delete <group>')
    .description('delete a group (its members leave the apps it was assigned to)')
    .option(
      '--confirm-deletions',
      'go ahead when it deprovisions more than an app allows without confirmation',
    )
    .action(async (ref: string, options: { confirmDeletions?: boolean }) => {
      const c = ctx();
      const group = await c.client.groups.delete((await resolveGroup(c, ref)).id, options);
      printChange(c, group, `deleted group ${group.displayName} (${group.id})`);
    });
  return groups;
}
