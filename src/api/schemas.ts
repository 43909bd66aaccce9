import { z } from 'zod';

export const idParams = z.object({ id: z.string().min(1) });
export const appGroupParams = z.object({ id: z.string().min(1), groupId: z.string().min(1) });
export const memberParams = z.object({ id: z.string().min(1), userId: z.string().min(1) });
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
