import { MAX_QUOTED_ANSWER, plainExcerpt, ScimError } from '../scim/errors';
import { capabilitiesFrom, type TargetCapabilities, type Targets } from './targets';
import type { DirectoryApp } from '../directory/model';

export interface ConnectionReport {
  ok: boolean;
  reachable: boolean;
  authenticated: boolean;
  capabilities?: TargetCapabilities;
  usersEndpoint?: { ok: boolean; totalResults?: number };
  error?: { step: 'ServiceProviderConfig' | 'Users'; status?: number; message: string };
}

/** Reads /ServiceProviderConfig and runs one filtered GET /Users, reporting precisely what failed. */
export async function checkConnection(targets: Targets, app: DirectoryApp): Promise<ConnectionReport> {
  const client = targets.newClient(app);
  const report: ConnectionReport = { ok: false, reachable: false, authenticated: false };
  let step: 'ServiceProviderConfig' | 'Users' = 'ServiceProviderConfig';
  try {
    report.capabilities = capabilitiesFrom(await client.serviceProviderConfig());
    report.reachable = true;
    step = 'Users';
    // A filter that matches nobody proves filtering and authentication without reading real data.
    const probe = await client.findUsers('userName eq "scimflow-connection-test"', 1);
    report.authenticated = true;
    report.usersEndpoint = { ok: true, totalResults: probe.totalResults };
    report.ok = true;
  } catch (error) {
    if (!(error instanceof ScimError)) throw error;
    const status = error.details.status;
    report.reachable = status !== undefined;
    // Only a successful authenticated call proves the credentials (ServiceProviderConfig may be public).
    report.authenticated = false;
    const hint =
      status === 401 || status === 403
        ? ' — check the app credentials'
        : error.details.rule
          ? ' — see "Target addresses" in docs/operations.md'
          : status === undefined
            ? ' — check baseUrl and that the target is reachable from the worker'
            : '';
    // The message quotes at most MAX_QUOTED_ANSWER characters of the answer (the client cuts them); the whole is
    // made plain text once more, since the API hands it to whoever asked.
    const message = plainExcerpt(error.message, MAX_QUOTED_ANSWER + 200);
    report.error = { step, status, message: `${message}${hint}` };
  }
  return report;
}
