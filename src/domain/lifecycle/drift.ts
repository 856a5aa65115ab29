/**
 * Compares what the PBX reports with what the workflow recorded. The product we replace trusted a local "already
 * suspended" flag and let clients call on credit it did not have; voipbill reads the PBX and says where they differ.
 */
import type { DisabledItem, Suspension } from './types';

export interface ObservedItem {
  kind: string;
  id: string;
  label: string;
  enabled: boolean;
  /** Carrying calls right now, when the PBX can tell. */
  active: boolean | null;
}

export interface DriftReport {
  drift: boolean;
  detail: string;
  /** Items found off (or half-off) although the service should be active: re-enable these to repair. */
  unexpectedlyDisabled: DisabledItem[];
  /** Recorded as disabled by voipbill but found working again: disable these to repair. */
  unexpectedlyEnabled: DisabledItem[];
}

const asDisabled = (o: ObservedItem): DisabledItem => ({ kind: o.kind, id: o.id, name: o.label });

export function compareWithPbx(suspension: Pick<Suspension, 'disabled'> | undefined, observed: ObservedItem[]): DriftReport {
  if (suspension) {
    const recorded = new Set(suspension.disabled.map((d) => `${d.kind}:${d.id}`));
    const working = observed.filter((o) => recorded.has(`${o.kind}:${o.id}`) && (o.enabled || o.active === true));
    return {
      drift: working.length > 0,
      detail: working.length > 0 ? `suspended, but working at the PBX: ${working.map((o) => o.label).join(', ')}` : 'suspended as recorded',
      unexpectedlyDisabled: [],
      unexpectedlyEnabled: working.map(asDisabled),
    };
  }
  const off = observed.filter((o) => !o.enabled);
  return {
    drift: off.length > 0,
    detail: off.length > 0 ? `active, but disabled at the PBX: ${off.map((o) => o.label).join(', ')}` : 'active as recorded',
    unexpectedlyDisabled: off.map(asDisabled),
    unexpectedlyEnabled: [],
  };
}
