// The worker's workflowsPath: every workflow type voipbill runs is exported here.
export { smokeWorkflow } from './smoke';
export { serviceLifecycle } from './service-lifecycle';
export { reconcileServices } from './reconcile-services';
export { billingRun } from './billing-run';
export { creditGuard } from './credit-guard';
