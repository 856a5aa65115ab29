/**
 * What the Vodia double holds: tenants (by primary DNS name) with accounts, trunks and CDRs. CDR ids come from one
 * global sequence, assigned when a CDR is written (after hang-up), like a database id. Records use the 2020 shape:
 * epochs as strings with a millisecond fraction, SIP-header `from`/`to`, empty `connect` when unanswered.
 */

export interface VodiaAccount {
  id: string;
  name: string;
  alias: string[];
  displayname: string;
  disabled: boolean;
  usertype: string;
}

export interface VodiaTrunk {
  id: string;
  name: string;
  type: string;
  disabled: boolean;
  global: boolean;
  account: string;
}

export interface VodiaCdrRecord {
  id: number | string | null;
  call_id: string;
  from: string;
  to: string;
  start: string;
  connect: string;
  end: string;
  rating: string;
  pcap: boolean;
  extensions: string[];
  trunks: number[];
}

export interface VodiaTenant {
  id: number;
  name: string;
  displayName: string;
  accounts: VodiaAccount[];
  trunks: VodiaTrunk[];
  cdrs: VodiaCdrRecord[];
}

/** A call as the tests and the demo describe it. */
export interface VodiaCallSpec {
  direction: 'inbound' | 'outbound' | 'local';
  caller: string;
  destination: string;
  /** Epoch seconds (may carry a fraction). */
  start: number;
  ringSeconds: number;
  billsec: number;
  extension?: string;
  trunkId?: number;
}

export class VodiaState {
  readonly tenants = new Map<string, VodiaTenant>();
  private nextCdrId = 20_000;
  private nextTenantId = 1;
  private nextObjectId = 80;

  addTenant(name: string, options: { accounts?: string[]; trunks?: Array<{ name: string; global?: boolean }> } = {}): VodiaTenant {
    const tenant: VodiaTenant = {
      id: this.nextTenantId++,
      name,
      displayName: name.split('.')[0] ?? name,
      accounts: (options.accounts ?? []).map((ext) => ({ id: String(this.nextObjectId++), name: ext, alias: [ext], displayname: `Ext ${ext}`, disabled: false, usertype: 'extensions' })),
      trunks: (options.trunks ?? []).map((t) => ({ id: String(this.nextObjectId++), name: t.name, type: 'register', disabled: false, global: t.global ?? false, account: '6135550100' })),
      cdrs: [],
    };
    this.tenants.set(name, tenant);
    return tenant;
  }

  /** Writes the CDR of a finished call; returns its id. `idOverride` writes a record with an out-of-sequence id. */
  addCall(tenantName: string, call: VodiaCallSpec, idOverride?: number): number {
    const tenant = this.tenants.get(tenantName);
    if (!tenant) throw new Error(`no tenant ${tenantName}`);
    const id = idOverride ?? this.nextCdrId++;
    const fmt = (s: number) => s.toFixed(3);
    const connect = call.billsec > 0 ? call.start + call.ringSeconds : null;
    const end = call.start + call.ringSeconds + call.billsec;
    const sip = (n: string) => `"${n}" <sip:${n}@${tenant.name}>`;
    const trunk = call.trunkId ?? Number(tenant.trunks[0]?.id ?? 0);
    tenant.cdrs.push({
      id,
      call_id: `${id}-${Math.floor(call.start)}@10.0.0.9`,
      from: sip(call.caller),
      to: sip(call.destination),
      start: fmt(call.start),
      connect: connect === null ? '' : fmt(connect),
      end: fmt(end),
      rating: '',
      pcap: false,
      extensions: call.extension ? [call.extension] : [],
      trunks: call.direction === 'local' ? [] : [trunk],
    });
    return id;
  }

  addRawCdr(tenantName: string, record: Partial<VodiaCdrRecord> & Record<string, unknown>): void {
    const tenant = this.tenants.get(tenantName);
    if (!tenant) throw new Error(`no tenant ${tenantName}`);
    tenant.cdrs.push({ id: this.nextCdrId++, ...record } as VodiaCdrRecord);
  }

  /** The `/cdrs` list in the order the PBX serves it. */
  cdrList(tenant: VodiaTenant, order: 'newest-first' | 'oldest-first'): VodiaCdrRecord[] {
    const byId = [...tenant.cdrs].sort((a, b) => Number(a.id ?? 0) - Number(b.id ?? 0));
    return order === 'newest-first' ? byId.reverse() : byId;
  }
}
