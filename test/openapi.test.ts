import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import axios from 'axios';
import { API_TOKEN, Harness } from './support/harness';
import type { Method } from './support/apiCalls';

type JsonSchema = Record<string, unknown>;
interface OpenApiOperation {
  parameters?: { in: string; name: string }[];
  requestBody?: unknown;
  responses: Record<string, { description?: string; content?: Record<string, { schema: JsonSchema }> }>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
}

/**
 * The OpenAPI document (`GET /api/openapi.json`) against the API's real answers: a walk through the main routes,
 * each answer's body validated with ajv against the document's schema for its route and status.
 */
describe('the OpenAPI document', () => {
  let h: Harness;
  let doc: OpenApiDocument;
  // OpenAPI 3.0 schemas: `nullable` is one of ajv's own keywords; the rest is JSON Schema draft 4/7.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const compiled = new Map<string, ValidateFunction>();
  /** `get /api/apps/{id} 200`: each route and status whose real answer was validated. */
  const validated = new Set<string>();

  beforeAll(async () => {
    h = await Harness.start();
    doc = await h.ok<OpenApiDocument>('GET', '/api/openapi.json');
  });
  afterAll(async () => {
    await h?.close();
  });

  const validatorFor = (route: string, method: string, status: number): ValidateFunction => {
    const key = `${method} ${route} ${status}`;
    const cached = compiled.get(key);
    if (cached) return cached;
    const operation = doc.paths[route]?.[method];
    if (!operation) throw new Error(`the document has no ${method.toUpperCase()} ${route}`);
    const schema = operation.responses[String(status)]?.content?.['application/json']?.schema;
    if (!schema) throw new Error(`the document has no ${status} schema for ${method.toUpperCase()} ${route}`);
    const validate = ajv.compile(schema);
    compiled.set(key, validate);
    return validate;
  };

  /**
   * Calls the API and validates the answer against the document: `route` is the document's path
   * (`/api/apps/{id}`), `url` the one called.
   */
  const checked = async <T = Record<string, unknown>>(
    method: Method,
    route: string,
    url: string,
    expectedStatus: number,
    body?: unknown,
    bearer: string | null = API_TOKEN,
  ): Promise<T> => {
    const response = await h.call<T>(method, url, body, bearer);
    if (response.status !== expectedStatus) {
      throw new Error(
        `${method} ${url} answered ${response.status}, not ${expectedStatus}: ${JSON.stringify(response.body)}`,
      );
    }
    const validate = validatorFor(route, method.toLowerCase(), response.status);
    if (!validate(response.body)) {
      throw new Error(
        `${method} ${url} ${response.status} does not fit the document: ${ajv.errorsText(validate.errors)}\n` +
          JSON.stringify(response.body, null, 2).slice(0, 4000),
      );
    }
    validated.add(`${method.toLowerCase()} ${route} ${response.status}`);
    return response.body;
  };

  const until = async <T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(value).slice(0, 500)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  it('declares a 2xx answer and its error answers for every route', () => {
    const problems: string[] = [];
    let routes = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        routes++;
        const statuses = Object.keys(operation.responses);
        const name = `${method.toUpperCase()} ${path}`;
        const schemaOf = (status: string) =>
          operation.responses[status]?.content?.['application/json']?.schema;
        if (!statuses.some((status) => /^2\d\d$/.test(status) && schemaOf(status))) {
          problems.push(`${name}: no 2xx schema`);
        }
        const expected = ['401', '500'];
        const inputs = operation.parameters ?? [];
        if (inputs.length > 0 || operation.requestBody) expected.push('400');
        if (inputs.some((parameter) => parameter.in === 'path')) expected.push('404');
        if (method !== 'get') expected.push('400', '413', '415');
        for (const status of new Set(expected)) {
          if (!schemaOf(status)) problems.push(`${name}: no ${status} schema`);
        }
        for (const status of statuses) {
          const schema = schemaOf(status);
          if (!schema) continue;
          // Every error body is `{error, message, …}`.
          if (!/^2/.test(status)) {
            const bodies = (schema.oneOf ?? schema.anyOf ?? [schema]) as JsonSchema[];
            for (const body of bodies) {
              expect(body.required).toEqual(expect.arrayContaining(['error', 'message']));
            }
          }
          // Each compiles.
          ajv.compile(schema);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(routes).toBeGreaterThanOrEqual(40);
  });

  it('every real answer of the main routes fits the document', async () => {
    // ——— errors ———
    await checked('GET', '/api/users', '/api/users', 401, undefined, null);
    await checked('GET', '/api/users/{id}', '/api/users/no-such-user', 404);
    await checked('POST', '/api/users', '/api/users', 400, { emails: [{ value: 'not-an-email' }] });
    await checked('GET', '/api/users', '/api/users?limit=0', 400);
    const notJson = await axios.post(`${h.apiUrl}/api/users`, 'userName=x', {
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'text/plain' },
      validateStatus: () => true,
    });
    expect(notJson.status).toBe(415);
    expect(validatorFor('/api/users', 'post', 415)(notJson.data)).toBe(true);
    const malformed = await axios.post(`${h.apiUrl}/api/groups`, '{"displayName": ', {
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      validateStatus: () => true,
    });
    expect(malformed.status).toBe(400);
    expect(validatorFor('/api/groups', 'post', 400)(malformed.data)).toBe(true);

    // ——— apps ———
    const appBody = {
      name: 'Contract target',
      baseUrl: h.proxy.url,
      auth: { type: 'bearer', token: h.scim.token },
      rateLimit: { requestsPerMinute: 6000, burst: 100, applies: 'writes' },
    };
    const app = await checked<{ id: string }>('POST', '/api/apps', '/api/apps', 201, appBody);
    await checked('POST', '/api/apps', '/api/apps', 400, {
      ...appBody,
      name: 'Credentials in the URL',
      baseUrl: h.proxy.url.replace('://', '://user:secret@'),
    });
    await checked('POST', '/api/apps', '/api/apps', 400, {
      ...appBody,
      name: 'Deletes on Slack',
      profile: 'slack',
      deprovisionMode: 'delete',
      provisioning: { roles: true },
    });
    await checked('GET', '/api/apps', '/api/apps', 200);
    await checked('GET', '/api/apps/{id}', `/api/apps/${app.id}`, 200);
    await checked('GET', '/api/apps/{id}', '/api/apps/no-such-app', 404);
    await checked('PATCH', '/api/apps/{id}', `/api/apps/${app.id}`, 200, {
      membershipBatchSize: 50,
      provisioning: { roles: true, permissions: true },
      attributeMapping: { title: 'department' },
    });
    await checked('PATCH', '/api/apps/{id}', `/api/apps/${app.id}`, 200, { membershipBatchSize: null });
    await checked('POST', '/api/apps/{id}/test-connection', `/api/apps/${app.id}/test-connection`, 200);

    // ——— permissions, roles ———
    await checked('POST', '/api/permissions', '/api/permissions', 201, {
      key: 'billing.read',
      description: 'Read invoices',
    });
    await checked('POST', '/api/permissions', '/api/permissions', 201, { key: 'billing.write' });
    await checked('POST', '/api/permissions', '/api/permissions', 409, { key: 'billing.read' });
    await checked('GET', '/api/permissions', '/api/permissions', 200);
    await checked('GET', '/api/permissions/{key}', '/api/permissions/billing.read', 200);
    await checked('PUT', '/api/apps/{id}/permissions', `/api/apps/${app.id}/permissions`, 200, {
      keys: ['billing.read', 'billing.write'],
    });
    await checked('PUT', '/api/apps/{id}/permissions', `/api/apps/${app.id}/permissions`, 400, {
      keys: ['no.such.permission'],
    });

    // ——— groups, users, memberships ———
    const group = await checked<{ id: string }>('POST', '/api/groups', '/api/groups', 201, {
      displayName: 'Contract group',
    });
    await checked('POST', '/api/groups', '/api/groups', 400, {
      displayName: 'Strangers',
      memberIds: ['no-such-user'],
    });
    await checked('PUT', '/api/apps/{id}/groups/{groupId}', `/api/apps/${app.id}/groups/${group.id}`, 200);
    const role = await checked<{ id: string }>('POST', '/api/roles', '/api/roles', 201, {
      name: 'Accountant',
      permissionKeys: ['billing.read'],
    });
    await checked('PUT', '/api/roles/{id}/groups/{groupId}', `/api/roles/${role.id}/groups/${group.id}`, 200);
    await checked('PATCH', '/api/roles/{id}', `/api/roles/${role.id}`, 200, {
      permissionKeys: ['billing.read', 'billing.write'],
    });
    await checked('GET', '/api/roles', '/api/roles', 200);
    await checked('GET', '/api/roles/{id}', `/api/roles/${role.id}`, 200);

    const user = await checked<{ id: string }>('POST', '/api/users', '/api/users', 201, {
      userName: 'contract.ada@example.com',
      name: { givenName: 'Ada', familyName: 'Contract', formatted: 'Ada Contract' },
      displayName: 'Ada',
      emails: [{ value: 'contract.ada@example.com', type: 'work', primary: true }],
      phoneNumbers: [{ value: '+1 555 0100' }],
      title: 'Engineer',
      department: 'R&D',
      employeeNumber: '42',
      externalId: 'hr-42',
    });
    await checked('POST', '/api/users', '/api/users', 409, { userName: 'CONTRACT.ADA@example.com' });
    const second = await checked<{ id: string }>('POST', '/api/users', '/api/users', 201, {
      userName: 'contract.bob@example.com',
      active: false,
      manager: user.id,
    });
    const joined = await checked<{ operations: { workflowId: string; appId: string; intent: string }[] }>(
      'PUT',
      '/api/groups/{id}/members/{userId}',
      `/api/groups/${group.id}/members/${user.id}`,
      200,
    );
    await h.settle(joined.operations);
    await checked(
      'PUT',
      '/api/groups/{id}/members/{userId}',
      `/api/groups/${group.id}/members/${second.id}`,
      200,
    );
    await checked('GET', '/api/users', '/api/users', 200);
    await checked('GET', '/api/users', '/api/users?userName=contract.ada@example.com', 200);
    await checked('GET', '/api/users/{id}', `/api/users/${user.id}`, 200);
    const patched = await checked<{ operations: { workflowId: string; appId: string; intent: string }[] }>(
      'PATCH',
      '/api/users/{id}',
      `/api/users/${user.id}`,
      200,
      { title: 'Principal engineer' },
    );
    await h.settle(patched.operations);
    await checked('GET', '/api/groups', '/api/groups', 200);
    await checked('GET', '/api/groups', '/api/groups?displayName=Contract group', 200);
    await checked('GET', '/api/groups/{id}', `/api/groups/${group.id}`, 200);
    await checked('PATCH', '/api/groups/{id}', `/api/groups/${group.id}`, 200, {
      displayName: 'Contract group (renamed)',
    });

    // ——— operations ———
    const [operation] = joined.operations;
    await until(
      () =>
        checked<{ status: string }>(
          'GET',
          '/api/operations/{workflowId}',
          `/api/operations/${operation.workflowId}`,
          200,
        ),
      (view) => view.status === 'completed',
    );
    await checked('GET', '/api/operations/{workflowId}', '/api/operations/no-such-operation', 404);
    await checked('GET', '/api/operations', `/api/operations?appId=${app.id}`, 200);
    await checked('GET', '/api/operations', '/api/operations?status=sleeping', 400);

    // ——— links, app-managed attributes ———
    await checked('GET', '/api/apps/{id}/links', `/api/apps/${app.id}/links`, 200);
    await checked(
      'DELETE',
      '/api/apps/{id}/app-managed-attributes',
      `/api/apps/${app.id}/app-managed-attributes?attribute=title`,
      200,
    );

    // ——— reconciliation, schedule, import ———
    await checked('GET', '/api/apps/{id}/schedule', `/api/apps/${app.id}/schedule`, 200);
    await checked('POST', '/api/apps/{id}/schedule/pause', `/api/apps/${app.id}/schedule/pause`, 200);
    await checked('POST', '/api/apps/{id}/schedule/resume', `/api/apps/${app.id}/schedule/resume`, 200);
    const run = await checked<{ workflowId: string }>(
      'POST',
      '/api/apps/{id}/reconcile',
      `/api/apps/${app.id}/reconcile`,
      202,
      { dryRun: true },
    );
    const reportUrl = `/api/apps/${app.id}/reconciliations/${encodeURIComponent(run.workflowId)}`;
    // The run is recorded once its workflow begins.
    await until(
      () => h.call<{ status?: string }>('GET', reportUrl),
      (answer) => answer.status === 200 && answer.body.status !== 'running',
    );
    await checked('GET', '/api/apps/{id}/reconciliations/{workflowId}', reportUrl, 200);
    await checked('GET', '/api/apps/{id}/reconciliations', `/api/apps/${app.id}/reconciliations`, 200);
    await checked(
      'GET',
      '/api/apps/{id}/reconciliations/{workflowId}',
      `/api/apps/${app.id}/reconciliations/no-such-run`,
      404,
    );
    await checked('POST', '/api/apps/{id}/reconcile', `/api/apps/${app.id}/reconcile`, 400, {
      dryRun: 'yes',
    });
    const imported = await checked<{ workflowId: string }>(
      'POST',
      '/api/apps/{id}/import',
      `/api/apps/${app.id}/import`,
      202,
      { groups: true },
    );
    await until(
      () =>
        checked<{ status: string }>(
          'GET',
          '/api/operations/{workflowId}',
          `/api/operations/${encodeURIComponent(imported.workflowId)}`,
          200,
        ),
      (view) => view.status === 'completed' || view.status === 'failed',
    );

    // ——— taking it all down ———
    await checked(
      'DELETE',
      '/api/roles/{id}/groups/{groupId}',
      `/api/roles/${role.id}/groups/${group.id}`,
      200,
    );
    await checked('DELETE', '/api/roles/{id}', `/api/roles/${role.id}`, 200);
    await checked('DELETE', '/api/permissions/{key}', '/api/permissions/billing.write', 200);
    await checked(
      'DELETE',
      '/api/groups/{id}/members/{userId}',
      `/api/groups/${group.id}/members/${second.id}`,
      200,
    );
    await checked('DELETE', '/api/users/{id}', `/api/users/${second.id}`, 200);
    await checked('DELETE', '/api/apps/{id}/groups/{groupId}', `/api/apps/${app.id}/groups/${group.id}`, 200);
    await checked('DELETE', '/api/groups/{id}', `/api/groups/${group.id}`, 200);
    await checked('DELETE', '/api/users/{id}', `/api/users/${user.id}`, 200);
    await checked('DELETE', '/api/apps/{id}', `/api/apps/${app.id}`, 200);
    await checked('DELETE', '/api/apps/{id}', `/api/apps/${app.id}`, 404);

    const routes = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    const covered = routes.filter((route) => [...validated].some((key) => key.startsWith(`${route} 2`)));
    // The walk reaches all but a few of the document's routes (a route added since may not be walked yet).
    console.log(`validated ${validated.size} answers of ${covered.length} of the ${routes.length} routes`);
    expect(covered.length).toBeGreaterThanOrEqual(43);
    for (const status of [400, 401, 404, 409]) {
      expect([...validated].some((key) => key.endsWith(` ${status}`))).toBe(true);
    }
  });
});
