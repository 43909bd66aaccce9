/**
 * An app without PATCH: its ServiceProviderConfig says `"patch": {"supported": false}` (RFC 7643 §5,
 * https://www.rfc-editor.org/rfc/rfc7643#section-5) and every PATCH is answered 501 Not Implemented (RFC 7644
 * §3.5.2: "Implementers MAY support PATCH"; the ServiceProviderConfig tells clients which), so changes go by PUT,
 * which replaces the whole resource (RFC 7644 §3.5.1). scimmy behind it runs with `patch: false`, which already
 * answers that way; the rule here only records the request as a violation, since a correct client reads the
 * ServiceProviderConfig and never sends one.
 */
import { refusal, type Emulation, type Rule } from './core';

const noPatch: Rule = (request) =>
  request.method === 'PATCH'
    ? refusal(
        501,
        'PATCH is not supported by this service provider (ServiceProviderConfig patch.supported false)',
      )
    : undefined;

export function putOnly(): Emulation {
  return { serverOptions: { patch: false }, rules: [noPatch] };
}
