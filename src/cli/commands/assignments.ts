/** `scimflow assign|unassign <app> <group>`: a group's assignment to an app. */
import type { Command } from 'commander';
import type { Context } from '../context';
import { printChange } from '../output';
import { resolveApp, resolveGroup } from '../resolve';

/** Adds `assign` and `unassign` to the program (top-level commands, made with `program.command` as ever). */
export function addAssignmentCommands(program: Command, ctx: () => Context): void {
  program
    .command('assign <app> <group>')
    .description('assign a group to an app: its active members are provisioned')
    .action(async (appRef: string, groupRef: string) => {
      const c = ctx();
      const [app, group] = [await resolveApp(c, appRef), await resolveGroup(c, groupRef)];
      const answer = await c.client.apps.assign(app.id, group.id);
      printChange(c, answer, `${group.displayName} is assigned to ${app.name}`);
    });
  program
    .command('unassign <app> <group>')
    .description('end an assignment: members who leave the app are deprovisioned')
    .option(
      '--confirm-deletions',
      'go ahead when it deprovisions more than the app allows without confirmation',
    )
    .action(async (appRef: string, groupRef: string, options: { confirmDeletions?: boolean }) => {
      const c = ctx();
      const [app, group] = [await resolveApp(c, appRef), await resolveGroup(c, groupRef)];
      const answer = await c.client.apps.unassign(app.id, group.id, options);
      printChange(c, answer, `${group.displayName} is not assigned to ${app.name}`);
    });
}
