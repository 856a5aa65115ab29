/**
 * Compares what the PBX reports with what the workflow recorded. The product we replace trusted a local "already
 * suspended" flag and let clients call on credit it did not have; voipbill reads the PBX and says where they differ.
 *
 * voipbill repairs only what is its own: while a service is suspended, the items its suspension switched off; while
 * it is active, the items voipbill itself switched off and has not switched on again (or every item of a product that
 * says `owns: "all"`). An item found off that voipbill did not switch off — a spare gateway, an extension an admin
 * turned off on purpose — is reported for the admin and never switched on.
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
  /** Found off while the service is active, but not switched off by voipbill: reported, left as they are. */
  notOurs?: DisabledItem[];
}

const asDisabled = (o: ObservedItem): DisabledItem => ({ kind: o.kind, id: o.id, name: o.label });

/** Which of an active service's items voipbill may switch back on (see the header); by default all of them. */
export type Owned = (item: Pick<ObservedItem, 'kind' | 'id'>) => boolean;

export function compareWithPbx(suspension: Pick<Suspension, 'disabled'> | undefined, observed: ObservedItem[], owned: Owned = () => true): DriftReport {
  if (suspension) {
    const recorded = new Set(suspension.disabled.map((d) => `${d.kind}:${d.id}`));
    const working = observed.filter((o) => recorded.has(`${o.kind}:${o.id}`) && (o.enabled || o.active === true));
    return {
      drift: working.length > 0,
      detail: working.length > 0 ? `suspended, but working at the PBX: ${working.map((o) => o.label).join(', ')}` : 'suspended as recorded',
      unexpectedlyDisabled: [],
      unexpectedlyEnabled: working.map(asDisabled),
      notOurs: [],
    };
  }
  const off = observed.filter((o) => !o.enabled);
  const ours = off.filter((o) => owned(o));
  const others = off.filter((o) => !owned(o));
  const left = others.length > 0 ? `disabled at the PBX, not by voipbill (left as they are): ${others.map((o) => o.label).join(', ')}` : '';
  return {
    drift: ours.length > 0,
    detail:
      ours.length > 0
        ? `active, but disabled at the PBX: ${ours.map((o) => o.label).join(', ')}${left ? `; ${left}` : ''}`
        : left
          ? `active as recorded; ${left}`
          : 'active as recorded',
    unexpectedlyDisabled: ours.map(asDisabled),
    unexpectedlyEnabled: [],
    notOurs: others.map(asDisabled),
  };
}

/** `owned` for a service: every item when its product owns them all, else the items voipbill recorded switching off. */
export function ownedBy(config: { owns?: 'all' }, disabledByVoipbill: ReadonlySet<string>): Owned {
  return config.owns === 'all' ? () => true : (item) => disabledByVoipbill.has(itemKey(item.kind, item.id));
}

/** The key of a PBX item in the set of items voipbill switched off. */
export function itemKey(kind: string, id: string): string {
  return `${kind}:${id}`;
}
