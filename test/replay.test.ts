import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type History, historyFromJSON } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { DefaultLogger, type ReplayResult, Runtime, Worker } from '@temporalio/worker';
import { Keyring } from '../src/security/keyring';
import { temporalDataConverter } from '../src/temporal/payloadCodec';

/**
 * Users upgrade scimflow with runs in flight: a lane waiting for its next intent, a reconciliation between two
 * activities. The new worker then replays their histories, and a workflow change that issues other commands than
 * the recorded ones fails those runs with a non-determinism error. So every history under test/histories/
 * (recorded by earlier versions, see test/histories/README.md) must replay on today's workflow code.
 */
const HISTORIES_DIR = path.join(__dirname, 'histories');

const historyFiles = fs
  .readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.json'))
  .sort();

/**
 * Since 0.2 every Temporal payload is encrypted, and replay decodes them (a workflow's input, its activities'
 * results and failures). A folder recorded with encryption therefore holds the key its histories were recorded
 * with, in `test-only-payload-key.txt`: a key made for that recording only and published with it (lines starting
 * with `#` are comments). The replay keyring opens what any of them sealed; plain payloads (0.1) pass as they are.
 */
const TEST_KEY_FILE = 'test-only-payload-key.txt';
const recordingKeys = fs
  .readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' })
  .filter((file) => path.basename(file) === TEST_KEY_FILE)
  .sort()
  .map((file) => {
    const lines = fs
      .readFileSync(path.join(HISTORIES_DIR, file), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    if (lines.length !== 1) throw new Error(`${file} must hold exactly one key (base64 of 32 bytes)`);
    return Buffer.from(lines[0], 'base64');
  });

/**
 * `historyFromJSON` as the SDK offers it. SDK 1.24's checks `type instanceof Type` against the protobufjs copy
 * of @temporalio/common while the History type comes from the copy of @temporalio/proto; when npm nests one
 * copy under each (our tree does: the top-level protobufjs is grpc's 7.x), it throws "type must be a Type".
 * Then the same conversion runs with @temporalio/proto's own copy; our files are canonical proto JSON, so the
 * legacy enum spellings `historyFromJSON` also accepts do not matter here.
 */
function parseHistory(json: unknown): History {
  try {
    return historyFromJSON(json);
  } catch (error) {
    if (!(error instanceof TypeError) || error.message !== 'type must be a Type') throw error;
    const requireFromProto = createRequire(require.resolve('@temporalio/proto/package.json'));
    const { fromJson } = requireFromProto('protobufjs/ext/protojson') as {
      fromJson(type: unknown, json: unknown, options: object): History;
    };
    const root = patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown };
    return fromJson(root.lookupType('temporal.api.history.v1.History'), json, { ignoreUnknownFields: true });
  }
}

try {
  // Each replay worker logs its state changes at INFO; keep the console for what goes wrong.
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed by an earlier suite in this jest worker process.
}

describe('workflow histories recorded by earlier versions replay on today’s workflow code', () => {
  const codePath = process.env.SCIMFLOW_TEST_WORKFLOW_BUNDLE;
  // A fresh current key (replay seals nothing) and the keys the histories were recorded with.
  const dataConverter = temporalDataConverter(new Keyring(Keyring.generateKey(), recordingKeys));

  it('finds histories to replay', () => {
    // A moved folder must not turn this suite into a silent pass.
    expect(historyFiles.length).toBeGreaterThan(0);
  });

  test.each(historyFiles)('%s', async (file) => {
    // Given a history recorded by an earlier version
    if (!codePath) throw new Error('the jest globalSetup did not build the workflow bundle');
    const history = parseHistory(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));

    // When today's workflow bundle (the one the test worker runs) replays it, with the workers' data converter
    // (the payload codec opens what the recording keys sealed and passes what was written before encryption
    // through as it is)
    const results: ReplayResult[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath }, dataConverter }, [
      { workflowId: file, history },
    ])) {
      results.push(result);
    }

    // Then it issues the same commands in the same order
    expect(results).toHaveLength(1);
    expect(results[0].error).toBeUndefined();
  });
});
