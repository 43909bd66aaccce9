/**
 * A typed client of scimflow's HTTP API (docs/api.md), on the platform's `fetch`: no Temporal, no Node-only
 * modules, so the CLI, scripts, tests and a browser console can all use it. Request bodies are typed from the zod
 * schemas the API validates with (`z.input`: fields with defaults may be left out); answers from the records of
 * src/directory/model.ts and the route handlers. Every import here is a type: nothing of the server is loaded.
 */
import type { z } from 'zod';
import type {
  AppSettings,
  DirectoryGroup,
  DirectoryUser,
  RemoteLink,
  ReconciliationReport,
  appInputSchema,
  appPatchSchema,
  groupInputSchema,
  groupPatchSchema,
  userAttributesSchema,
  userPatchSchema,
} from '../directory/model';
import type { OperationStatus, OperationView } from '../api/operations';
import type { ImportReport } from '../provisioning/import';
import type { IntentName } from '../shared/intents';

export type { OperationStatus, OperationView, ReconciliationReport, ImportReport };

export type AppInput = z.input<typeof appInputSchema>;
export type AppPatch = z.input<typeof appPatchSchema>;
export type UserInput = z.input<typeof userAttributesSchema>;
export type UserPatch = z.input<typeof userPatchSchema>;
export type GroupInput = z.input<typeof groupInputSchema>;
export type GroupPatch = z.input<typeof groupPatchSchema>;

/** An intent a directory change started (`operations` of every change). */
export interface StartedOperation {
  workflowId: string;
  appId: string;
  intent: IntentName;
  status: 'delivered' | 'queued';
}
export type WithOperations<T> = T & { operations: StartedOperation[] };

/** An app as the API answers it: its settings (never its credentials) and what scimflow made of them. */
export interface AppRecord extends AppSettings {
  profile: NonNullable<AppSettings['profile']>;
  effective: Record<string, unknown>;
  appManagedAttributes: { resourceType: string; attribute: string; reason: string; objects: number }[];
  assignedGroupIds: string[];
  permissionKeys: string[];
}
export type DeletedApp = WithOperations<AppSettings & { deleted: true }>;

export interface UserRecord extends DirectoryUser {
  groupIds: string[];
  /** `GET /api/users/{id}` only. */
  roles?: string[];
  permissions?: string[];
}
export interface GroupRecord extends DirectoryGroup {
  appIds: string[];
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}

export interface ConnectionReport {
  ok: boolean;
  reachable: boolean;
  authenticated: boolean;
  capabilities?: Record<string, unknown>;
  usersEndpoint?: { ok: boolean; totalResults?: number };
  filters?: { externalId: string; email: string };
  proposedProfile?: { profile: string; reasons: string[] };
  error?: { step: string; status?: number; message: string };
}

export interface Assignment {
  appId: string;
  groupId: string;
  assigned: boolean;
  operations: StartedOperation[];
}

export interface ReconcileStarted {
  workflowId: string;
  appId: string;
  dryRun: boolean;
  confirmDeletions: boolean;
  /** The path of the run's report. */
  report: string;
  uiUrl: string;
}
export type ReconciliationView = ReconciliationReport & { uiUrl: string };
export type ReconciliationSummary = Omit<ReconciliationView, 'objects'>;

export interface ImportStarted {
  workflowId: string;
  appId: string;
  users: boolean;
  groups: boolean;
  memberships: boolean;
  operations: StartedOperation[];
}

export interface OperationFilter {
  appId?: string;
  resourceId?: string;
  intent?: IntentName;
  status?: Exclude<OperationStatus, 'queued'>;
  limit?: number;
}

export interface LinkRecord extends RemoteLink {
  appManaged: { attribute: string; reason: string; detectedAt: string }[];
}

/** The API's error answer: `{error, message}` and, per error, `issues`, `apps`, `problems`, `rule`, `workflowId`. */
export interface ApiErrorBody {
  error: string;
  message: string;
  [more: string]: unknown;
}

/** An answer other than 2xx (`status` its HTTP status), or no answer at all (`status` 0, `error` "unreachable"). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
    this.name = 'ApiError';
  }
  get code(): string {
    return this.body.error;
  }
}

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:3000` */
  baseUrl: string;
  token?: string;
  /** Per request; default 60 s (a list of operations asks Temporal, a test-connection asks the app). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;
const confirm = (confirmDeletions?: boolean): Query => ({ confirmDeletions: confirmDeletions || undefined });
const segment = encodeURIComponent;

export class ScimflowClient {
  readonly baseUrl: string;
  private readonly token?: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** One call; answers the parsed JSON of a 2xx, throws ApiError otherwise. */
  async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; query?: Query } = {},
  ): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) params.set(key, String(value));
    }
    const url = `${this.baseUrl}${path}${params.size ? `?${params}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause =
        error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : error;
      throw new ApiError(0, {
        error: 'unreachable',
        message: `cannot reach the scimflow API at ${this.baseUrl}: ${String(cause)}`,
      });
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const body =
        json && typeof json === 'object' && 'message' in json
          ? (json as ApiErrorBody)
          : {
              error: `http-${response.status}`,
              message: `${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`,
            };
      throw new ApiError(response.status, body);
    }
    return json as T;
  }

  health() {
    return this.request<{ ok: boolean }>('GET', '/healthz');
  }

  readonly apps = {
    list: () => this.request<{ items: AppRecord[] }>('GET', '/api/apps'),
    get: (id: string) => this.request<AppRecord>('GET', `/api/apps/${segment(id)}`),
    create: (input: AppInput) =>
      this.request<WithOperations<AppRecord>>('POST', '/api/apps', { body: input }),
    update: (id: string, patch: AppPatch) =>
      this.request<WithOperations<AppRecord>>('PATCH', `/api/apps/${segment(id)}`, { body: patch }),
    delete: (id: string) => this.request<DeletedApp>('DELETE', `/api/apps/${segment(id)}`),
    testConnection: (id: string) =>
      this.request<ConnectionReport>('POST', `/api/apps/${segment(id)}/test-connection`),
    assign: (id: string, groupId: string) =>
      this.request<Assignment>('PUT', `/api/apps/${segment(id)}/groups/${segment(groupId)}`),
    unassign: (id: string, groupId: string, options: { confirmDeletions?: boolean } = {}) =>
      this.request<Assignment>('DELETE', `/api/apps/${segment(id)}/groups/${segment(groupId)}`, {
        query: confirm(options.confirmDeletions),
      }),
    setPermissions: (id: string, keys: string[]) =>
      this.request<WithOperations<AppRecord>>('PUT', `/api/apps/${segment(id)}/permissions`, {
        body: { keys },
      }),
    links: (id: string) => this.request<{ items: LinkRecord[] }>('GET', `/api/apps/${segment(id)}/links`),
    reconcile: (id: string, options: { dryRun?: boolean; confirmDeletions?: boolean } = {}) =>
      this.request<ReconcileStarted>('POST', `/api/apps/${segment(id)}/reconcile`, { body: options }),
    reconciliations: (id: string, options: { limit?: number } = {}) =>
      this.request<{ items: ReconciliationSummary[] }>('GET', `/api/apps/${segment(id)}/reconciliations`, {
        query: { limit: options.limit },
      }),
    reconciliation: (id: string, workflowId: string) =>
      this.request<ReconciliationView>(
        'GET',
        `/api/apps/${segment(id)}/reconciliations/${segment(workflowId)}`,
      ),
    import: (id: string, options: { users?: boolean; groups?: boolean; memberships?: boolean } = {}) =>
      this.request<ImportStarted>('POST', `/api/apps/${segment(id)}/import`, { body: options }),
  };

  readonly users = {
    list: (query: { offset?: number; limit?: number; userName?: string } = {}) =>
      this.request<Page<UserRecord>>('GET', '/api/users', { query }),
    get: (id: string) => this.request<UserRecord>('GET', `/api/users/${segment(id)}`),
    create: (input: UserInput) =>
      this.request<WithOperations<UserRecord>>('POST', '/api/users', { body: input }),
    update: (id: string, patch: UserPatch, options: { confirmDeletions?: boolean } = {}) =>
      this.request<WithOperations<UserRecord>>('PATCH', `/api/users/${segment(id)}`, {
        body: patch,
        query: confirm(options.confirmDeletions),
      }),
    delete: (id: string, options: { confirmDeletions?: boolean } = {}) =>
      this.request<WithOperations<UserRecord & { deleted: true }>>('DELETE', `/api/users/${segment(id)}`, {
        query: confirm(options.confirmDeletions),
      }),
  };

  readonly groups = {
    list: (query: { offset?: number; limit?: number; displayName?: string } = {}) =>
      this.request<Page<GroupRecord>>('GET', '/api/groups', { query }),
    get: (id: string) => this.request<GroupRecord>('GET', `/api/groups/${segment(id)}`),
    create: (input: GroupInput) =>
      this.request<WithOperations<GroupRecord>>('POST', '/api/groups', { body: input }),
    update: (id: string, patch: GroupPatch, options: { confirmDeletions?: boolean } = {}) =>
      this.request<WithOperations<GroupRecord>>('PATCH', `/api/groups/${segment(id)}`, {
        body: patch,
        query: confirm(options.confirmDeletions),
      }),
    delete: (id: string, options: { confirmDeletions?: boolean } = {}) =>
      this.request<WithOperations<GroupRecord & { deleted: true }>>('DELETE', `/api/groups/${segment(id)}`, {
        query: confirm(options.confirmDeletions),
      }),
    addMember: (id: string, userId: string) =>
      this.request<WithOperations<GroupRecord>>(
        'PUT',
        `/api/groups/${segment(id)}/members/${segment(userId)}`,
      ),
    removeMember: (id: string, userId: string, options: { confirmDeletions?: boolean } = {}) =>
      this.request<WithOperations<GroupRecord>>(
        'DELETE',
        `/api/groups/${segment(id)}/members/${segment(userId)}`,
        { query: confirm(options.confirmDeletions) },
      ),
  };

  readonly operations = {
    list: (filter: OperationFilter = {}) =>
      this.request<{ items: OperationView[] }>('GET', '/api/operations', { query: { ...filter } }),
    get: (workflowId: string) => this.request<OperationView>('GET', `/api/operations/${segment(workflowId)}`),
  };
}
