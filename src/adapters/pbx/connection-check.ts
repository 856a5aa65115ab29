/** Turns a typed PBX error into the words an admin sees in "servers test". */
import type { ConnectionCheck } from '../../ports/pbx';
import { PbxAuthError, PbxConfigError, PbxForbiddenError, PbxTargetNotFoundError, PbxUnavailableError } from './errors';

export function toCheck(check: string, err: unknown): ConnectionCheck {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof PbxUnavailableError) return { check, status: 'unreachable', message };
  if (err instanceof PbxAuthError) return { check, status: 'bad-credentials', message };
  if (err instanceof PbxForbiddenError) return { check, status: 'not-allowed', message };
  if (err instanceof PbxConfigError || err instanceof PbxTargetNotFoundError) return { check, status: 'misconfigured', message };
  return { check, status: 'error', message };
}
