/** Preflight: WHMCS is configured but BILLING_TIME_ZONE is not (due dates and autobill would follow UTC). */
import { billingTimeZoneWarning, type Config } from '../../config';
import type { PreflightFinding } from '../finding';

export interface BillingTimeZoneCheckContext {
  config: Pick<Config, 'WHMCS_URL' | 'BILLING_TIME_ZONE'>;
  /** The process environment, to tell "unset" from "set to UTC". */
  env: Readonly<Record<string, string | undefined>>;
}

export async function checkBillingTimeZone(ctx: BillingTimeZoneCheckContext): Promise<PreflightFinding[]> {
  const warning = billingTimeZoneWarning(ctx.config, ctx.env);
  if (warning) return [{ severity: 'warn', code: 'billing-time-zone-unset', message: warning, subject: 'BILLING_TIME_ZONE' }];
  if (!ctx.config.WHMCS_URL) return [];
  return [{ severity: 'info', code: 'billing-time-zone', message: `billing days, WHMCS due dates and autobill follow ${ctx.config.BILLING_TIME_ZONE}`, subject: 'BILLING_TIME_ZONE' }];
}
