/**
 * PBX activities for the service lifecycle workflow: suspend, unsuspend and inspect one service at its PBX.
 * Failures leave as ApplicationFailures whose `type` is the stable PBX error name: a PBX that is down
 * (`PbxUnavailableError`) is retried by the activity retry policy; a bad target or configuration is non-retryable
 * (`PbxTargetNotFoundError`, `PbxTargetInvalidError`, `ProductFieldError`, `SuspendUnsupportedError`, `PbxConfigError`,
 * `PbxAuthError`, … — the full list is PBX_NON_RETRYABLE_ERROR_TYPES).
 *
 * Retry-safe recording of what was disabled: call `inspectService` first, keep the items that are `enabled`, pass
 * exactly those as `target.gateways` / `target.extensions` to `suspendService`, and later unsuspend that recorded list.
 * A retried suspend then acts on the same items even if an earlier attempt already disabled some of them.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../src/log';
import type { InspectResult, PbxKind, SuspendMode, SuspendResult, SuspendTarget, UnsuspendResult } from '../src/ports/pbx';
import { PbxError } from '../src/adapters/pbx/errors';
import type { PbxRegistry } from '../src/adapters/pbx/registry';

export interface PbxServiceInput {
  /** WHMCS service id, for logs and audit. */
  serviceId: string;
  /** Servers-file name of the service's PBX; absent = the only server of `kind`. */
  server?: string;
  kind?: PbxKind;
  mode: SuspendMode;
  target: SuspendTarget;
}

export interface PbxChangeInput extends PbxServiceInput {
  /** Business key of this change (e.g. `suspend/<serviceId>/<reason-seq>`), logged with every PBX write. */
  idempotencyKey: string;
}

export interface PbxActivityDeps {
  registry: PbxRegistry;
  log: Logger;
}

function toFailure(err: unknown): unknown {
  if (err instanceof PbxError) {
    return ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: !err.retryable, cause: err });
  }
  return err;
}

export function createPbxActivities(deps: PbxActivityDeps) {
  const adapterFor = (input: PbxServiceInput) => deps.registry.resolve({ ...(input.server ? { server: input.server } : {}), ...(input.kind ? { kind: input.kind } : {}) });
  const run = async <T>(what: string, input: PbxServiceInput, fn: () => Promise<T>): Promise<T> => {
    try {
      const result = await fn();
      deps.log.info(`pbx ${what}`, { serviceId: input.serviceId, server: input.server, mode: input.mode, tenant: input.target.tenant });
      return result;
    } catch (err) {
      deps.log.warn(`pbx ${what} failed`, { serviceId: input.serviceId, server: input.server, mode: input.mode, error: err });
      throw toFailure(err);
    }
  };
  return {
    async suspendService(input: PbxChangeInput): Promise<SuspendResult> {
      return run('suspend', input, () => adapterFor(input).suspend(input.target, input.mode, { idempotencyKey: input.idempotencyKey }));
    },
    async unsuspendService(input: PbxChangeInput): Promise<UnsuspendResult> {
      return run('unsuspend', input, () => adapterFor(input).unsuspend(input.target, input.mode, { idempotencyKey: input.idempotencyKey }));
    },
    /** The PBX's real state for the service, to decide from facts rather than a local "already suspended" flag. */
    async inspectService(input: PbxServiceInput): Promise<InspectResult> {
      return run('inspect', input, () => adapterFor(input).inspect(input.target, input.mode));
    },
  };
}

export type PbxActivities = ReturnType<typeof createPbxActivities>;
