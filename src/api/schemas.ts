import { z } from 'zod';
import { idSchema } from '../directory/model';

export const idParams = z.object({ id: idSchema });
export const appGroupParams = z.object({ id: idSchema, groupId: idSchema });
export const memberParams = z.object({ id: idSchema, userId: idSchema });
/**
 * An intent's or a run's workflow id (`provisionUser:<appId>:<userId>:17`, `reconcile:<appId>:<time>`): the id
 * charset, and room for two ids and a suffix.
 */
export const workflowIdSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._:-]+$/, 'a workflow id is 1–256 letters, digits and . _ : -');
export const pageQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export class NotFoundError extends Error {
  constructor(resource: string, id: string) {
    super(`${resource} ${id} not found`);
    this.name = 'NotFoundError';
  }
}

/**
 * `?confirmDeletions=true` lets a change go ahead that would deprovision, delete or remove more in an app than its
 * deletion threshold allows; without it such a change is refused with 409 and the counts.
 */
export const confirmDeletionsQuery = z.object({
  confirmDeletions: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => value === 'true'),
});
