/**
 * A fault-injecting HTTP reverse proxy for integration tests: it sits in front of a SCIM target and, on
 * request, answers with an error status, swallows a request, forwards a write but loses the response, or
 * slows a request down. Everything else is forwarded unchanged.
 *
 * Bodies are buffered in both directions (SCIM payloads are small) so a fault can decide what to do with a
 * complete request, and a lost response is lost only after the target has fully committed it.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FaultMatch {
  /** HTTP method, case-insensitive; any method when absent. */
  method?: string;
  /** Matched against the path below the target's base URL, e.g. "/Users" or "/Groups/123". */
  pathPrefix?: string;
}

export type Fault =
  /** Answer with this status and a SCIM error body instead of forwarding. */
  | { type: 'status'; status: number; retryAfterSeconds?: number; body?: object }
  /**
   * Never answer and never forward: the client has to give up. After `ms`, if given, the connection is
   * dropped; otherwise it is held until the client disconnects or the proxy closes.
   */
  | { type: 'timeout'; ms?: number }
  /** Forward so the write commits at the target, then drop the client connection without answering. */
  | { type: 'lose-response' }
  /**
   * Wait, then forward. The request is forwarded even if the client gave up meanwhile, as a request already
   * on the wire would be, so a write can commit after the client has timed out.
   */
  | { type: 'delay'; ms: number };

export type FaultType = Fault['type'];

export interface ProxiedRequest {
  method: string;
  /** Below the target's base URL, without the query string. */
  path: string;
  /** What the client received; null when it received no response (timeout, lose-response, client gone). */
  status: number | null;
  /** The fault applied to this request, if any. */
  fault?: FaultType;
  /** What the target answered, when the request reached it; for lose-response it tells whether the write committed. */
  targetStatus?: number;
  /** When the request arrived (ms since the epoch), to check that retries waited as asked. */
  receivedAt: number;
}

export interface FaultProxy {
  /** Same path prefix as the target, so clients only swap the base URL. */
  url: string;
  /** Every request received, in arrival order; status and targetStatus fill in as the exchange completes. */
  received: ProxiedRequest[];
  /** Queue a fault for the next `times` requests matching `match`; queued rules fire in the order added. */
  failNext(match: FaultMatch, fault: Fault, times?: number): void;
  clearFaults(): void;
  close(): Promise<void>;
}

interface FaultRule {
  match: FaultMatch;
  fault: Fault;
  remaining: number;
}

interface TargetResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
// Connection-scoped headers describe one hop and must not be passed on (RFC 9110 §7.6.1).
const HOP_BY_HOP_HEADERS = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
];

function withoutHopByHopHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const forwarded: http.OutgoingHttpHeaders = { ...headers };
  for (const name of HOP_BY_HOP_HEADERS) delete forwarded[name];
  return forwarded;
}

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.on('aborted', () => reject(new Error('Request aborted by the client')));
  });
}

function scimErrorBody(status: number, detail: string): object {
  return { schemas: [SCIM_ERROR_SCHEMA], status: String(status), detail };
}

export async function startFaultProxy(targetBaseUrl: string): Promise<FaultProxy> {
  const target = new URL(targetBaseUrl);
  if (target.protocol !== 'http:' || !LOOPBACK_HOSTS.has(target.hostname)) {
    throw new Error(`The fault proxy only fronts plain-HTTP loopback targets, not ${targetBaseUrl}`);
  }
  const basePath = target.pathname.replace(/\/+$/, '');

  const rules: FaultRule[] = [];
  const received: ProxiedRequest[] = [];
  const clientSockets = new Set<Socket>();
  // Sleeping faults, so close() can cut them short instead of leaving timers behind.
  const pendingSleeps = new Map<NodeJS.Timeout, () => void>();
  // No keep-alive towards the target: nothing to linger once the proxy closes.
  const targetAgent = new http.Agent({ keepAlive: false });
  let closing = false;

  function pathBelowBase(url: string): string {
    const { pathname } = new URL(url, 'http://proxy.invalid');
    if (!basePath) return pathname;
    if (pathname === basePath) return '/';
    return pathname.startsWith(`${basePath}/`) ? pathname.slice(basePath.length) : pathname;
  }

  function takeFault(method: string, path: string): Fault | undefined {
    const index = rules.findIndex(
      ({ match }) =>
        (!match.method || match.method.toUpperCase() === method.toUpperCase()) &&
        (!match.pathPrefix || path.startsWith(match.pathPrefix)),
    );
    if (index === -1) return undefined;
    const rule = rules[index];
    rule.remaining -= 1;
    if (rule.remaining <= 0) rules.splice(index, 1);
    return rule.fault;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pendingSleeps.delete(timer);
        resolve();
      }, ms);
      pendingSleeps.set(timer, resolve);
    });
  }

  function forward(req: http.IncomingMessage, body: Buffer): Promise<TargetResponse> {
    return new Promise((resolve, reject) => {
      // Host is passed through, as reverse proxies commonly do, so links the target builds from it
      // (meta.location) point back at the proxy.
      const headers = withoutHopByHopHeaders(req.headers);
      if (body.length > 0) headers['content-length'] = body.length;
      const upstream = http.request(
        {
          host: target.hostname.replace(/^\[|\]$/g, ''),
          port: target.port || 80,
          method: req.method,
          path: req.url,
          headers,
          agent: targetAgent,
        },
        (response) => {
          readBody(response).then(
            (responseBody) =>
              resolve({ status: response.statusCode ?? 502, headers: response.headers, body: responseBody }),
            reject,
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  function answer(res: http.ServerResponse, record: ProxiedRequest, response: TargetResponse): void {
    if (res.destroyed) return;
    record.status = response.status;
    res.writeHead(response.status, {
      ...withoutHopByHopHeaders(response.headers),
      'content-length': response.body.length,
    });
    res.end(response.body);
  }

  function answerWithError(
    res: http.ServerResponse,
    record: ProxiedRequest,
    status: number,
    body: object,
    retryAfterSeconds?: number,
  ): void {
    if (res.destroyed) return;
    record.status = status;
    const payload = Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/scim+json',
      'content-length': payload.length,
    };
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
    res.writeHead(status, headers);
    res.end(payload);
  }

  async function handle(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: ProxiedRequest,
  ): Promise<void> {
    const fault = takeFault(record.method, record.path);
    if (fault) record.fault = fault.type;

    const body = await readBody(req);

    switch (fault?.type) {
      case 'status':
        answerWithError(
          res,
          record,
          fault.status,
          fault.body ?? scimErrorBody(fault.status, `Injected fault: HTTP ${fault.status}`),
          fault.retryAfterSeconds,
        );
        return;
      case 'timeout':
        if (fault.ms !== undefined) {
          await sleep(fault.ms);
          req.socket.destroy();
        }
        // Otherwise hold: the socket stays open until the client gives up or close() destroys it.
        return;
      case 'lose-response': {
        const response = await forward(req, body);
        record.targetStatus = response.status;
        req.socket.destroy();
        return;
      }
      case 'delay':
        await sleep(fault.ms);
        if (closing) return;
        break;
    }

    const response = await forward(req, body);
    record.targetStatus = response.status;
    answer(res, record, response);
  }

  const server = http.createServer((req, res) => {
    const record: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: pathBelowBase(req.url ?? '/'),
      status: null,
      receivedAt: Date.now(),
    };
    received.push(record);
    handle(req, res, record).catch((error: Error) => {
      answerWithError(
        res,
        record,
        502,
        scimErrorBody(502, `Fault proxy could not reach the target: ${error.message}`),
      );
    });
  });
  server.on('connection', (socket) => {
    clientSockets.add(socket);
    socket.on('close', () => clientSockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    received,
    failNext(match, fault, times = 1) {
      if (!Number.isInteger(times) || times < 1)
        throw new Error(`times must be a positive integer, got ${times}`);
      rules.push({ match, fault, remaining: times });
    },
    clearFaults() {
      rules.length = 0;
    },
    close() {
      closing = true;
      rules.length = 0;
      for (const [timer, wake] of pendingSleeps) {
        clearTimeout(timer);
        wake();
      }
      pendingSleeps.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of clientSockets) socket.destroy();
        targetAgent.destroy();
      });
    },
  };
}
