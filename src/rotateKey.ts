import { loadConfig } from './config';
import { unreadableNotice } from './directory/kysely/appCredentials';
import { rotatePostgresAppCredentials } from './directory/postgres/postgresStore';
import { rotateAppCredentials } from './directory/sqlite/sqliteStore';
import { loadKeyring } from './security/keys';

/**
 * `npm run rotate-key` (built: `node dist/rotateKey.js`): with the new key configured as the current one and the
 * old one as a previous key, seals every app's credentials with the new key. Safe while the API and workers run
 * (they must already have the new key, see docs/operations.md, "Keys"), and safe to run again.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const keyring = loadKeyring(config, {
    createIfMissing: false,
    notice: (message) => console.warn(message),
  });
  const report = config.database.url
    ? { ...(await rotatePostgresAppCredentials(config.database.url, keyring)), walTruncated: true }
    : await rotateAppCredentials(config.dbFile, keyring);
  const already = report.apps - report.sealed - report.unreadable.length;
  console.log(
    `sealed the credentials of ${report.sealed} app(s) with the current key (id ${keyring.currentKeyId}); ` +
      `${already} already were`,
  );
  if (!report.walTruncated) {
    console.warn(
      'the WAL file could not be truncated (a reader held it); older copies there go at the next checkpoint',
    );
  }
  if (report.unreadable.length > 0) {
    console.error(unreadableNotice(report));
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
