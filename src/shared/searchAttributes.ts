import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes set on every scimflow run, so the Temporal UI can filter by app, resource and intent
 * (e.g. `ScimAppId = "app_123"`). The embedded dev server registers them at start; another cluster needs them
 * registered once (docs/operations.md).
 */
export const scimAppId = defineSearchAttributeKey('ScimAppId', SearchAttributeType.KEYWORD);
export const scimResourceType = defineSearchAttributeKey('ScimResourceType', SearchAttributeType.KEYWORD);
export const scimResourceId = defineSearchAttributeKey('ScimResourceId', SearchAttributeType.KEYWORD);
export const scimIntent = defineSearchAttributeKey('ScimIntent', SearchAttributeType.KEYWORD);

export const customSearchAttributes = [scimAppId, scimResourceType, scimResourceId, scimIntent] as const;
