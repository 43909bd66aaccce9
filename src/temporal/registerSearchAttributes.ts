import type { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { customSearchAttributes } from '../shared/searchAttributes';
import type { Logger } from '../logger';

/**
 * Registers scimflow's custom search attributes on a cluster that lacks them. Needs operator rights; where the
 * caller has none (Temporal Cloud API keys often don't), it answers what is missing so it can be reported with the
 * command that fixes it.
 */
export async function ensureSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<{ added: string[]; missing: string[]; error?: string }> {
  const names = customSearchAttributes.map((key) => key.name);
  let missing = names;
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    missing = names.filter((name) => !(name in (customAttributes ?? {})));
    if (missing.length === 0) return { added: [], missing: [] };
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
    return { added: missing, missing: [] };
  } catch (error) {
    return { added: [], missing, error: error instanceof Error ? error.message : String(error) };
  }
}

export function searchAttributeCommands(namespace: string, missing: string[]): string {
  return missing
    .map(
      (name) =>
        `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`,
    )
    .join('\n');
}

/** On a cluster other than the embedded dev server: register the search attributes, or say how to. */
export async function registerSearchAttributes(temporal: Client, namespace: string, logger: Logger) {
  // connectTemporal builds every client on a full Connection, which has the operator service.
  const attributes = await ensureSearchAttributes(temporal.connection as Connection, namespace);
  if (attributes.added.length)
    logger.info({ added: attributes.added }, 'registered custom search attributes');
  if (attributes.missing.length) {
    logger.warn(
      `custom search attributes are missing (${attributes.error}); operations cannot be listed until they are ` +
        `registered:\n${searchAttributeCommands(namespace, attributes.missing)}`,
    );
  }
}
