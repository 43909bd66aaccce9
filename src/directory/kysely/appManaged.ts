import type { ResourceType } from '../model';
import type { AppManagedAttribute, AppManagedStore } from '../store';
import { now, slices } from './conventions';
import type { Db, Tables } from './tables';

function toAttribute(row: Tables['app_managed_attributes']): AppManagedAttribute {
  return {
    resourceType: row.resource_type as ResourceType,
    localId: row.local_id,
    attribute: row.attribute,
    reason: row.reason as AppManagedAttribute['reason'],
    wanted: row.wanted,
    detectedAt: row.detected_at,
  };
}

export function appManagedQueries(db: Db): AppManagedStore {
  return {
    async recordAppManagedAttributes(appId, attributes) {
      const detectedAt = now();
      for (const slice of slices(attributes)) {
        await db
          .insertInto('app_managed_attributes')
          .values(
            slice.map((attribute) => ({
              app_id: appId,
              resource_type: attribute.resourceType,
              local_id: attribute.localId,
              attribute: attribute.attribute,
              reason: attribute.reason,
              wanted: attribute.wanted,
              detected_at: detectedAt,
            })),
          )
          .onConflict((conflict) =>
            conflict.columns(['app_id', 'resource_type', 'local_id', 'attribute']).doUpdateSet((eb) => ({
              reason: eb.ref('excluded.reason'),
              wanted: eb.ref('excluded.wanted'),
              detected_at: eb.ref('excluded.detected_at'),
            })),
          )
          .execute();
      }
    },

    async appManagedAttributesOf(appId, resourceType, localIds) {
      const found = new Map<string, AppManagedAttribute[]>();
      for (const slice of slices([...new Set(localIds)])) {
        const rows = await db
          .selectFrom('app_managed_attributes')
          .selectAll()
          .where('app_id', '=', appId)
          .where('resource_type', '=', resourceType)
          .where('local_id', 'in', slice)
          .orderBy('attribute')
          .execute();
        for (const row of rows) {
          const list = found.get(row.local_id) ?? [];
          list.push(toAttribute(row));
          found.set(row.local_id, list);
        }
      }
      return found;
    },

    async appManagedSummary(appId) {
      const rows = await db
        .selectFrom('app_managed_attributes')
        .select([
          'resource_type',
          'attribute',
          'reason',
          (eb) => eb.fn.countAll<number | string>().as('objects'),
        ])
        .where('app_id', '=', appId)
        .groupBy(['resource_type', 'attribute', 'reason'])
        .orderBy('resource_type')
        .orderBy('attribute')
        .orderBy('reason')
        .execute();
      return rows.map((row) => ({
        resourceType: row.resource_type as ResourceType,
        attribute: row.attribute,
        reason: row.reason as AppManagedAttribute['reason'],
        objects: Number(row.objects),
      }));
    },

    async forgetAppManagedAttributes(appId, which = {}) {
      let query = db.deleteFrom('app_managed_attributes').where('app_id', '=', appId);
      if (which.resourceType) query = query.where('resource_type', '=', which.resourceType);
      if (which.localId) query = query.where('local_id', '=', which.localId);
      if (which.attributes) {
        if (which.attributes.length === 0) return 0;
        query = query.where('attribute', 'in', which.attributes);
      }
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
