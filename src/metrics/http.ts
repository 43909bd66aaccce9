import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ScimflowMetrics } from './registry';

/**
 * The worker's metrics listener (`SCIMFLOW_WORKER_METRICS_PORT`): `GET /metrics` and nothing else, without
 * authentication, so on loopback by default (`SCIMFLOW_WORKER_METRICS_HOST`). The worker has no other HTTP
 * server; this one is plain `node:http`, so the worker still loads no HTTP framework.
 */
export async function serveMetrics(
  metrics: ScimflowMetrics,
  options: { host: string; port: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(path === '/metrics' ? 405 : 404, { 'Content-Type': 'text/plain' }).end();
      return;
    }
    metrics.text().then(
      (text) => {
        response.writeHead(200, { 'Content-Type': metrics.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      () => response.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics not collected\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
