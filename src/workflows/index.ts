/** Every workflow the worker registers: one file per intent, and the lane that orders them. */
export { intentLane, enqueueIntent } from './intentLane';
export { provisionUser } from './provisionUser';
export { updateUser } from './updateUser';
export { deprovisionUser } from './deprovisionUser';
export { createGroup } from './createGroup';
export { updateGroup } from './updateGroup';
export { deleteGroup } from './deleteGroup';
export { syncGroupMembership } from './syncGroupMembership';
export { syncRoleEntitlements } from './syncRoleEntitlements';
export { reconcileApp } from './reconcileApp';
export { importFromApp } from './importFromApp';
