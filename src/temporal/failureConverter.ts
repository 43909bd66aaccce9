import { DefaultFailureConverter } from '@temporalio/common';

/**
 * The failure converter of every scimflow client and worker, loaded by path (`failureConverterPath`) because the
 * workflow sandbox bundles it too. A failure's message and stack trace move into a payload, which the payload
 * codec encrypts: SCIM errors quote userNames and e-mail addresses. Failure types stay in clear (workflows and
 * operators branch on them).
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
