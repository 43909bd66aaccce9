/**
 * Emulators of the apps scimflow's profiles are built for (src/provisioning/profiles.ts): each is a real SCIM
 * server (scimmy, via startScimServer) behind a layer that enforces the app's documented quirks, one file per
 * app with each rule next to the page that documents it. A request that breaks a documented rule gets the app's
 * answer and is logged as a violation — a correct client makes none; 429s from a rate limit are counted apart.
 * `deriving` is a target of our own that normalises what it stores, as many SaaS apps do.
 *
 *   const app = await startEmulator('aws-iam-identity-center');
 *   // … point an app at app.url with app.token …
 *   expect(app.violations()).toEqual([]);
 */
import { type ProfileName, profileNames } from '../../../src/directory/targetSettings';
import type { ScimGroupRecord, ScimTestServer, ScimUserRecord } from '../scimServer';
import { awsIamIdentityCenter, type AwsOptions } from './aws';
import { runEmulation, type EmulatedRequestRecord, type Emulation } from './core';
import { deriving } from './deriving';
import { entraCompatible } from './entra';
import { githubEmu, type GithubOptions } from './github';
import { oktaCompatible } from './okta';
import { putOnly } from './putOnly';
import { slack, type SlackOptions } from './slack';

export type EmulatorKind = ProfileName | 'deriving';

/** One emulator per profile, and the deriving app. */
export const emulatorKinds: EmulatorKind[] = [...profileNames, 'deriving'];

export type EmulatorOptions = AwsOptions & SlackOptions & GithubOptions;

export interface Emulator {
  kind: EmulatorKind;
  /** Base URL, e.g. http://127.0.0.1:PORT/scim/v2 */
  url: string;
  token: string;
  /** Every request received, in arrival order, with the status answered and the rule it broke, if any. */
  requests: EmulatedRequestRecord[];
  /** "METHOD /path: the rule" for each request refused because it broke a documented rule. */
  violations(): string[];
  /** Requests refused with 429 by the app's rate limit. */
  rateLimited(): number;
  /**
   * What the app holds at the end (deep copies): the users and groups as stored, derived or normalised, with
   * group members even where the app's API does not return them (AWS).
   */
  users(): ScimUserRecord[];
  groups(): ScimGroupRecord[];
  /** The scimmy server behind the emulator: its own request log, and seeding or drift behind the app's back. */
  server: ScimTestServer;
  close(): Promise<void>;
}

function emulationOf(kind: EmulatorKind, options: EmulatorOptions): Emulation {
  switch (kind) {
    case 'generic':
      return {};
    case 'entra-compatible':
      return entraCompatible();
    case 'aws-iam-identity-center':
      return awsIamIdentityCenter(options);
    case 'okta-compatible':
      return oktaCompatible();
    case 'slack':
      return slack(options);
    case 'github-emu':
      return githubEmu(options);
    case 'put-only':
      return putOnly();
    case 'deriving':
      return deriving();
    default: {
      const unknown: never = kind;
      throw new Error(`No emulator for ${String(unknown)}`);
    }
  }
}

export async function startEmulator(kind: EmulatorKind, options: EmulatorOptions = {}): Promise<Emulator> {
  const running = await runEmulation(emulationOf(kind, options));
  return {
    kind,
    url: running.url,
    token: running.token,
    requests: running.requests,
    violations: running.violations,
    rateLimited: running.rateLimited,
    users: () => running.backend.users(),
    groups: () => running.backend.groups(),
    server: running.backend,
    close: running.close,
  };
}
