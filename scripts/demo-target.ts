import { startScimServer } from '../test/support/scimServer';

/**
 * `npm run demo:target`: a SCIM 2.0 service provider (scimmy, in memory) on loopback, to try scimflow
 * against — the same server the integration tests provision into.
 */
async function main(): Promise<void> {
  const port = Number(process.env.DEMO_TARGET_PORT ?? 8880);
  const token = process.env.DEMO_TARGET_TOKEN ?? 'demo-target-token';
  const server = await startScimServer({ port, token });
  console.log(`SCIM target listening at ${server.url} (bearer token: ${token}); Ctrl-C stops it`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
