/**
 * Call shapes as a real FusionPBX installation leaves them in `v_xml_cdr`, beyond the plain rows of seed.ts (from
 * app/xml_cdr/resources/classes/xml_cdr.php, the dialplan and the ring-group / follow-me scripts):
 * - dialling out with an access code: the outbound route matches `9` + number and bridges
 *   `sofia/gateway/<gateway_uuid>/<number>`; the A-leg keeps the dialled string in `destination_number` and
 *   `caller_destination` (015_caller_details sets it from destination_number), the bridge data in `last_arg`, the
 *   B-leg's UUID in `bridge_uuid`; with `log-b-leg` the B-leg has its own row (`leg = 'b'`) whose
 *   `destination_number` is the number sent to the carrier. A call transferred after the bridge ends with another
 *   application in `last_app` / `last_arg`, and then only the B-leg still tells the carrier number;
 * - follow-me / ring-group to an external number: `loopback/<number>` with `call_direction=outbound`; the loopback
 *   leg is an A-leg row of its own, outbound, without `extension_uuid` (no directory user), with
 *   `originating_leg_uuid` = the inbound call's UUID, bridged to the gateway; the inbound call keeps the extension
 *   it rang and the DID in `caller_destination`;
 * - history from before the upgrade to 5.1: rows with NULL `insert_date` (the column was added, not back-filled).
 */
import { randomUUID } from 'node:crypto';
import type { FusionCdrRow, SeededTenant } from './seed';

export interface CallTimes {
  /** Epoch seconds. */
  start: number;
  ring?: number;
  /** 0 = unanswered. */
  billsec: number;
}

function times(t: CallTimes): Pick<FusionCdrRow, 'startEpoch' | 'answerEpoch' | 'endEpoch' | 'billsec'> {
  const ring = t.ring ?? 5;
  return { startEpoch: t.start, answerEpoch: t.billsec > 0 ? t.start + ring : 0, endEpoch: t.start + ring + t.billsec, billsec: t.billsec };
}

/**
 * An extension dials `accessCode + number` through an outbound route to the tenant's first gateway. Returns the
 * A-leg and, with `logBLeg`, the B-leg row. `transferredAfterBridge`: the call went on to another application, so
 * `last_app` / `last_arg` no longer show the bridge.
 */
export function accessCodeCall(
  tenant: SeededTenant,
  o: CallTimes & { extension: string; accessCode: string; number: string; logBLeg?: boolean; transferredAfterBridge?: boolean },
): FusionCdrRow[] {
  const ext = tenant.extensions.find((e) => e.extension === o.extension);
  const gw = tenant.gateways[0];
  if (!gw) throw new Error(`tenant ${tenant.domainName} has no gateway to dial out through`);
  const aUuid = randomUUID();
  const bUuid = randomUUID();
  const dialled = `${o.accessCode}${o.number}`;
  const a: FusionCdrRow = {
    uuid: aUuid,
    domainUuid: tenant.domainUuid,
    domainName: tenant.domainName,
    extensionUuid: ext?.uuid ?? null,
    direction: 'outbound',
    callerIdNumber: o.extension,
    destinationNumber: dialled,
    callerDestination: dialled,
    ...times(o),
    bridgeUuid: bUuid,
    ...(o.transferredAfterBridge ? { lastApp: 'transfer', lastArg: '*98 XML default' } : { lastArg: `sofia/gateway/${gw.uuid}/${o.number}` }),
  };
  if (!o.logBLeg) return [a];
  const b: FusionCdrRow = {
    uuid: bUuid,
    domainUuid: tenant.domainUuid,
    domainName: tenant.domainName,
    extensionUuid: null,
    direction: 'outbound',
    callerIdNumber: o.extension,
    destinationNumber: o.number,
    callerDestination: o.number,
    ...times(o),
    leg: 'b',
    lastArg: null,
  };
  return [a, b];
}

/**
 * A call to `did` rings `extension`, whose follow-me (or a ring group) also calls `external` through a loopback
 * leg and the tenant's first gateway; the external party answers. Returns the inbound call and the loopback leg.
 */
export function followMeCall(tenant: SeededTenant, o: CallTimes & { did: string; caller: string; extension: string; external: string }): FusionCdrRow[] {
  const ext = tenant.extensions.find((e) => e.extension === o.extension);
  if (!ext) throw new Error(`tenant ${tenant.domainName} has no extension ${o.extension}`);
  const gw = tenant.gateways[0];
  if (!gw) throw new Error(`tenant ${tenant.domainName} has no gateway to forward through`);
  const inboundUuid = randomUUID();
  const inbound: FusionCdrRow = {
    uuid: inboundUuid,
    domainUuid: tenant.domainUuid,
    domainName: tenant.domainName,
    extensionUuid: ext.uuid,
    direction: 'inbound',
    callerIdNumber: o.caller,
    sourceNumber: o.caller,
    destinationNumber: o.extension,
    callerDestination: o.did,
    ...times(o),
  };
  const loopback: FusionCdrRow = {
    domainUuid: tenant.domainUuid,
    domainName: tenant.domainName,
    extensionUuid: null,
    direction: 'outbound',
    callerIdNumber: o.caller,
    destinationNumber: o.external,
    callerDestination: o.external,
    ...times(o),
    originatingLegUuid: inboundUuid,
    lastArg: `sofia/gateway/${gw.uuid}/${o.external}`,
  };
  return [inbound, loopback];
}
