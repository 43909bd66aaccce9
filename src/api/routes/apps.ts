import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  appInputSchema,
  appPatchSchema,
  appPermissionsSchema,
  type DirectoryApp,
  withoutSecrets,
} from '../../directory/model';
import { z } from 'zod';
import { checkConnection } from '../../provisioning/connectionCheck';
import { assertFitsProfile, effectiveProfile } from '../../provisioning/profiles';
import { type TargetRefusal, withoutUrlCredentials } from '../../scim/targetPolicy';
import type { ApiContext } from '../context';
import {
  appChangeSchema,
  appDeletedSchema,
  appListSchema,
  appViewSchema,
  assignmentSchema,
  connectionReportSchema,
  forgottenSchema,
  linkListSchema,
  readErrors,
  writeErrors,
} from '../responses';
import { appGroupParams, confirmDeletionsQuery, idParams, NotFoundError } from '../schemas';

const appManagedQuery = z.object({
  /** Comma-separated attribute paths; all of the app's when left out. */
  attribute: z.string().max(2048).optional(),
});

/** The 400 for a baseUrl the target policy refuses; nothing is stored. */
const unsafeTarget = (refusal: TargetRefusal) => ({
  error: 'unsafe-target' as const,
  rule: refusal.rule,
  message: `unsafe baseUrl (${refusal.rule}): ${refusal.message}`,
});

export function appRoutes({ store, apply, targets, schedules }: ApiContext): FastifyPluginAsyncZod {
  // An app stored before credentials in a URL were refused still shows none.
  const shown = (app: DirectoryApp) => ({
    ...withoutSecrets(app),
    baseUrl: withoutUrlCredentials(app.baseUrl),
    allowPrivateNetwork: app.allowPrivateNetwork ?? false,
  });
  const view = async (app: DirectoryApp) => {
    const profile = effectiveProfile(app);
    return {
      ...shown(app),
      profile: profile.name,
      // What the profile and the app's own settings make of it: what every write follows.
      effective: {
        membershipBatchSize: profile.membershipBatchSize,
        memberRemoval: profile.memberRemoval,
        userUpdates: profile.userUpdates,
        groupUpdates: profile.groupUpdates,
        activeWrite: profile.activeWrite,
        deletesUsers: profile.deletesUsers,
        groupMembersReadable: profile.groupMembersReadable,
        paging: profile.paging,
        rateLimit: profile.rateLimit,
        attributeMapping: profile.mapping,
      },
      // Attributes the app keeps its own way on some of its objects, which scimflow therefore no longer writes there.
      appManagedAttributes: await store.appManagedSummary(app.id),
      assignedGroupIds: await store.assignedGroupIds(app.id),
      permissionKeys: await store.appPermissionKeys(app.id),
    };
  };
  const requireApp = async (id: string) => {
    const app = await store.getApp(id);
    if (!app) throw new NotFoundError('app', id);
    return app;
  };

  return async (api) => {
    api.post(
      '/api/apps',
      {
        schema: {
          body: appInputSchema,
          tags: ['apps'],
          response: { 201: appChangeSchema, ...writeErrors(409) },
        },
      },
      async (request, reply) => {
        const refusal = await targets.refusal(request.body);
        if (refusal) return reply.code(400).send(unsafeTarget(refusal));
        assertFitsProfile(request.body);
        const app = await store.createApp(request.body);
        await schedules.upsert(app);
        return reply.code(201).send({ ...(await view(app)), operations: [] });
      },
    );

    api.get(
      '/api/apps',
      { schema: { tags: ['apps'], response: { 200: appListSchema, ...readErrors() } } },
      async () => ({
        items: await Promise.all((await store.listApps()).map(view)),
      }),
    );

    api.get(
      '/api/apps/:id',
      {
        schema: {
          params: idParams,
          tags: ['apps'],
          response: { 200: appViewSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => view(await requireApp(request.params.id)),
    );

    api.patch(
      '/api/apps/:id',
      {
        schema: {
          params: idParams,
          body: appPatchSchema,
          tags: ['apps'],
          response: { 200: appChangeSchema, ...writeErrors(404, 409) },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const { baseUrl, allowPrivateNetwork } = request.body;
        if (baseUrl !== undefined || allowPrivateNetwork !== undefined) {
          // Checked before the write transaction, which must not wait on DNS.
          const current = await requireApp(id);
          const refusal = await targets.refusal({
            baseUrl: baseUrl ?? current.baseUrl,
            allowPrivateNetwork: allowPrivateNetwork ?? current.allowPrivateNetwork,
          });
          if (refusal) return reply.code(400).send(unsafeTarget(refusal));
        }
        const { result: app, operations } = await apply(async (tx, planner) => {
          const before = await tx.getApp(id);
          if (!before) throw new NotFoundError('app', id);
          const app = await tx.updateApp(id, request.body);
          if (!app) throw new NotFoundError('app', id);
          assertFitsProfile(app);
          // Switching roles or permissions on (or off) brings every user's roles and entitlements in line.
          const switched =
            Boolean(before.provisioning.roles) !== app.provisioning.roles ||
            Boolean(before.provisioning.permissions) !== app.provisioning.permissions;
          const intents = switched
            ? await planner.afterRoleChange(
                { allUsers: true },
                { appId: id, what: 'roles/permissions switched' },
              )
            : [];
          return { result: app, plan: { intents } };
        });
        await schedules.upsert(app);
        return { ...(await view(app)), operations };
      },
    );

    // Removes the app and everything scimflow remembers of it; nothing is written to the target.
    api.delete(
      '/api/apps/:id',
      {
        schema: {
          params: idParams,
          tags: ['apps'],
          response: { 200: appDeletedSchema, ...writeErrors(404) },
        },
      },
      async (request) => {
        const app = await requireApp(request.params.id);
        await store.deleteApp(app.id);
        await schedules.remove(app.id);
        return { ...shown(app), deleted: true, operations: [] };
      },
    );

    api.post(
      '/api/apps/:id/test-connection',
      {
        schema: {
          params: idParams,
          tags: ['apps'],
          response: { 200: connectionReportSchema, ...writeErrors(404) },
        },
      },
      async (request) => checkConnection(targets, await requireApp(request.params.id)),
    );

    /** Assigns or unassigns a group; only an actual change issues intents. */
    const changeAssignment = async (
      { id, groupId }: { id: string; groupId: string },
      assign: boolean,
      options: { confirmDeletions: boolean },
    ) => {
      const { operations } = await apply(async (tx, planner) => {
        if (!(await tx.getApp(id))) throw new NotFoundError('app', id);
        const group = await tx.getGroup(groupId);
        if (!group) throw new NotFoundError('group', groupId);
        const change = await planner.before(group.memberIds);
        const assignment = [{ appId: id, groupId }];
        const changed = assign ? await tx.assignGroup(id, groupId) : await tx.unassignGroup(id, groupId);
        const plan = changed
          ? await change.planFor(
              assign ? { assigned: assignment } : { reason: 'group-unassigned', unassigned: assignment },
            )
          : { intents: [] };
        return { result: null, plan };
      }, options);
      return { appId: id, groupId, assigned: assign, operations };
    };

    api.put(
      '/api/apps/:id/groups/:groupId',
      {
        schema: {
          params: appGroupParams,
          tags: ['apps'],
          response: { 200: assignmentSchema, ...writeErrors(404) },
        },
      },
      (request) => changeAssignment(request.params, true, { confirmDeletions: false }),
    );

    api.delete(
      '/api/apps/:id/groups/:groupId',
      {
        schema: {
          params: appGroupParams,
          querystring: confirmDeletionsQuery,
          tags: ['apps'],
          response: { 200: assignmentSchema, ...writeErrors(404, 409) },
        },
      },
      (request) => changeAssignment(request.params, false, request.query),
    );

    // "Assign Permissions": only these keys are ever sent to the app as entitlements.
    api.put(
      '/api/apps/:id/permissions',
      {
        schema: {
          params: idParams,
          body: appPermissionsSchema,
          tags: ['apps'],
          response: { 200: appChangeSchema, ...writeErrors(404) },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { result: app, operations } = await apply(async (tx, planner) => {
          const app = await tx.getApp(id);
          if (!app) throw new NotFoundError('app', id);
          const before = await tx.appPermissionKeys(id);
          await tx.setAppPermissionKeys(id, request.body.keys);
          const after = await tx.appPermissionKeys(id);
          const intents =
            JSON.stringify(before) !== JSON.stringify(after)
              ? await planner.afterRoleChange(
                  { allUsers: true },
                  { appId: id, what: 'assigned permissions changed' },
                )
              : [];
          return { result: app, plan: { intents } };
        });
        return { ...(await view(app)), operations };
      },
    );

    api.get(
      '/api/apps/:id/links',
      {
        schema: {
          params: idParams,
          tags: ['apps'],
          response: { 200: linkListSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => {
        const app = await requireApp(request.params.id);
        const links = await store.listLinks(app.id);
        const appManaged = await store.appManagedAttributesOf(
          app.id,
          'User',
          links.filter((link) => link.resourceType === 'User').map((link) => link.localId),
        );
        return {
          items: links.map((link) => ({
            ...link,
            // Which attributes of this object the app keeps its own way, and how (values are not shown).
            appManaged:
              (link.resourceType === 'User' ? appManaged.get(link.localId) : undefined)?.map(
                ({ attribute, reason, detectedAt }) => ({ attribute, reason, detectedAt }),
              ) ?? [],
          })),
        };
      },
    );

    // Forgets what the app was seen to manage itself (all of it, or the attributes named), so that scimflow writes
    // those attributes again — after the app's behaviour or the mapping changed. The next reconciliation writes them.
    api.delete(
      '/api/apps/:id/app-managed-attributes',
      {
        schema: {
          params: idParams,
          querystring: appManagedQuery,
          tags: ['apps'],
          response: { 200: forgottenSchema, ...writeErrors(404) },
        },
      },
      async (request) => {
        const app = await requireApp(request.params.id);
        const attributes = request.query.attribute
          ?.split(',')
          .map((name) => name.trim())
          .filter(Boolean);
        return { forgotten: await store.forgetAppManagedAttributes(app.id, { attributes }) };
      },
    );
  };
}
