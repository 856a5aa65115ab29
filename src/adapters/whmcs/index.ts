/** Builds the WHMCS gateway and charging from settings (the composition root maps config/env onto these). */
import type { Pool } from 'pg';
import type { Logger } from '../../log';
import type { WhmcsCharging, WhmcsGateway, WhmcsVoipFieldIds, WhmcsVoipFieldName } from '../../ports/whmcs';
import { createWhmcsCharging } from './charging';
import { createWhmcsClient } from './client';
import { createWhmcsTransport } from './transport';

export interface WhmcsSettings {
  url: string;
  identifier: string;
  secret: string;
  accessKey?: string;
  timeoutMs?: number;
  fieldIds: WhmcsVoipFieldIds;
  voipProductIds?: number[];
  /** Field names in WHMCS's activity log, where they differ from ictVoIP's. */
  fieldNames?: Partial<Record<WhmcsVoipFieldName, string>>;
}

export function createWhmcsGateway(settings: WhmcsSettings, log: Logger): WhmcsGateway {
  const transport = createWhmcsTransport({
    url: settings.url,
    identifier: settings.identifier,
    secret: settings.secret,
    log: log.child({ component: 'whmcs' }),
    ...(settings.accessKey ? { accessKey: settings.accessKey } : {}),
    ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}),
  });
  return createWhmcsClient(transport, {
    fieldIds: settings.fieldIds,
    ...(settings.voipProductIds ? { voipProductIds: settings.voipProductIds } : {}),
    ...(settings.fieldNames ? { fieldNames: settings.fieldNames } : {}),
  });
}

export function createWhmcs(settings: WhmcsSettings, deps: { pool: Pool; log: Logger }): { gateway: WhmcsGateway; charging: WhmcsCharging } {
  const gateway = createWhmcsGateway(settings, deps.log);
  return { gateway, charging: createWhmcsCharging({ whmcs: gateway, pool: deps.pool, log: deps.log }) };
}

export * from './errors';
export { chargeIdFor, chargeTag, WhmcsChargeConflictError, WhmcsChargeInvalidError } from './charging';
