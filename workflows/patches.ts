/**
 * Every versioning marker the workflows use (docs/versioning.md). Each guards a change to the command sequence that
 * histories recorded before it would replay differently; test/fixtures/histories holds a recorded history through
 * each one, and the replay test checks that none is missing.
 */
export const LIFECYCLE_PATCHES = {
  /** Included-minutes messages and the wake-up at the period's end. */
  includedMinutes: 'included-minutes-v1',
  /** Auto top-up at a low-balance crossing. */
  autoTopUp: 'auto-topup-v1',
  /** A step that failed for good is tried again after a while without a signal. */
  selfRetry: 'self-retry-v1',
  /** An update accepted during the last pass before continue-as-new gets a pass of its own first. */
  updatesBeforeContinueAsNew: 'updates-before-continue-as-new-v1',
  /** The policy a wake-up carries replaces the one the workflow was started with. */
  policyFromSignals: 'policy-from-signals-v1',
  /** A continue-as-new cap in the input (tests used to set one) is ignored: only the server's suggestion counts. */
  noTestContinueAsNewCap: 'no-test-continue-as-new-cap-v1',
} as const;

export const BILLING_RUN_PATCHES = {
  /** A source refused for its configuration no longer stops the other sources of the run. */
  sourceRefusal: 'source-refusal-v1',
  /** Stored calls change included-minutes usage even when nothing was charged. */
  usageWithoutCharge: 'usage-without-charge-v1',
} as const;

export const CREDIT_GUARD_PATCHES = {
  /** The guard runs as replicas: one acts, standbys wait on other workers (before: one activity). */
  standbys: 'credit-guard-standbys-v1',
} as const;

export const ALL_PATCHES: readonly string[] = [...Object.values(LIFECYCLE_PATCHES), ...Object.values(BILLING_RUN_PATCHES), ...Object.values(CREDIT_GUARD_PATCHES)];
