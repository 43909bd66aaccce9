import { ensureTestServer } from './testServer';

/** A fresh clone has no test server yet: install the pinned one, once, before any workflow test starts it. */
export default async function globalSetup(): Promise<void> {
  await ensureTestServer((message) => process.stderr.write(`[jest unit globalSetup] ${message}\n`));
}
