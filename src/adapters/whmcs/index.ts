/** Builds the WHMCS gateway from settings (the composition root maps config/env onto these). */
import type { Logger } from '../../log';
import type { WhmcsGateway, WhmcsVoipFieldIds, WhmcsVoipFieldName } from '../../ports/whmcs';
import { createWhmcsClient } from './client';
import { createWhmcsTransport } from './transport';

export interface WhmcsSettings {
  url: string;
  identifier: string;
  secret: string;
  accessKey?: string;
  timeoutMs?: number;
  fieldIds: WhmcsVoipFieldIds | (() => Promise<WhmcsVoipFieldIds>);
  voipProductIds?: number[] | (() => number[]);
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

export * from './errors';
export { chargeIdFor, chargeTag, WhmcsChargeConflictError, WhmcsChargeInvalidError } from './charging';
