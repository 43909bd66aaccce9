import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { customSearchAttributes } from '../src/shared/searchAttributes';
import { findTemporalCli } from '../src/temporal/devServer';
import { ensureSearchAttributes } from '../src/temporal/registerSearchAttributes';

describe('Temporal dev server', () => {
  it('registers every custom search attribute', async () => {
    const connection = await Connection.connect({ address: process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'default',
      });
      expect(Object.keys(customAttributes ?? {})).toEqual(
        expect.arrayContaining(customSearchAttributes.map((key) => key.name)),
      );
    } finally {
      await connection.close();
    }
  });

  it('registers the search attributes on a namespace of another cluster that lacks them, once', async () => {
    const connection = await Connection.connect({ address: process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS });
    try {
      const namespace = `external-${Date.now()}`;
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      const names = customSearchAttributes.map((key) => key.name);
      expect(await ensureSearchAttributes(connection, namespace)).toEqual({ added: names, missing: [] });
      expect(await ensureSearchAttributes(connection, namespace)).toEqual({ added: [], missing: [] });
    } finally {
      await connection.close();
    }
  });

  it('rejects a TEMPORAL_CLI_PATH that does not exist', async () => {
    const missingPath = path.join(process.env.SCIMFLOW_TEST_TMP ?? '/nonexistent', 'no-such-temporal');
    await expect(
      findTemporalCli({ explicitPath: missingPath, projectRoot: path.resolve(__dirname, '..') }),
    ).rejects.toThrow(`TEMPORAL_CLI_PATH is set to ${missingPath}, but no executable file exists there`);
  });
});
