/**
 * The one set of product-field parsers (src/domain/services/product-fields.ts) and the service record the sync
 * builds from them: the same field reads the same way wherever it is read.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ProductFieldError,
  parseExtensionList,
  parseFusionDomainField,
  parseLesnetPeerField,
  parseVodiaTenantField,
} from '../../src/domain/services/product-fields';
import { ServiceFieldError, serviceRecordFrom, type ProductMapping } from '../../src/domain/services/service-config';

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof ProductFieldError, `ProductFieldError, got ${err.name}`);
    assert.equal(err.name, 'ProductFieldError');
    assert.equal((err as ProductFieldError).retryable, false);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('Vodia "tenant | DID | DID | ext"', () => {
  test('splits tenant, DIDs and extensions (documented example)', () => {
    assert.deepEqual(parseVodiaTenantField('cffm.wat1.ictvoip.ca | 5484815577 | 5197830020 | 8300'), {
      tenant: 'cffm.wat1.ictvoip.ca',
      dids: ['5484815577', '5197830020'],
      extensions: ['8300'],
    });
  });

  test('tolerates a trailing pipe and spacing, lower-cases the tenant', () => {
    assert.deepEqual(parseVodiaTenantField('  Tenant.Example.COM|5195710000 |  '), { tenant: 'tenant.example.com', dids: ['5195710000'], extensions: [] });
  });

  test('the extension/DID boundary is configurable', () => {
    assert.deepEqual(parseVodiaTenantField('t.example.com | 5551234 | 8300', { extensionMaxLength: 7 }).extensions, ['5551234', '8300']);
  });

  test('names the bad token', () => {
    rejects(() => parseVodiaTenantField(''), /is empty/);
    rejects(() => parseVodiaTenantField('not a host | 5484815577'), /first token "not a host" is not a tenant DNS name/);
    rejects(() => parseVodiaTenantField('t.example.com | 548481557x | 8300'), /token 2 "548481557x" is not a number/);
  });
});

describe('LES.NET "Peer | DID"', () => {
  test('parses the documented example', () => {
    assert.deepEqual(parseLesnetPeerField('D4E3CD2BFC791 | 12046664021'), { peer: 'D4E3CD2BFC791', dids: ['12046664021'] });
  });
  test('requires a DID and a sane peer id', () => {
    rejects(() => parseLesnetPeerField('D4E3CD2BFC791'), /has no DID/);
    rejects(() => parseLesnetPeerField('D4E3-CD2B | 12046664021'), /peer "D4E3-CD2B"/);
    rejects(() => parseLesnetPeerField('D4E3CD2BFC791 | 1204-666'), /token 2 "1204-666" is not a DID/);
  });
});

describe('FusionPBX fields', () => {
  test('domain field "tenant | MainDID"', () => {
    assert.deepEqual(parseFusionDomainField('mcon.wat5.ictvoip.ca | 5192229000'), { tenant: 'mcon.wat5.ictvoip.ca', dids: ['5192229000'], extensions: [] });
    assert.deepEqual(parseFusionDomainField('Mcon.Wat5.ictvoip.ca'), { tenant: 'mcon.wat5.ictvoip.ca', dids: [], extensions: [] });
    rejects(() => parseFusionDomainField('a.example | 519-555'), /token 2 "519-555" is not a number/);
  });
  test('extension list from the dedicated IP field', () => {
    assert.deepEqual(parseExtensionList('2112 | 2113 | 2114 | 2115 | 2216'), ['2112', '2113', '2114', '2115', '2216']);
    assert.deepEqual(parseExtensionList('2112,2113'), ['2112', '2113']);
    assert.deepEqual(parseExtensionList(' | '), []);
    assert.deepEqual(parseExtensionList('2112 | 2112'), ['2112']);
    rejects(() => parseExtensionList('2112 | 10.0.0.1/24'), /"10.0.0.1\/24" is not an extension/);
  });
});

describe('the service record is built with the same parsers', () => {
  const fusion: ProductMapping = { productId: 1, kind: 'fusionpbx', suspendMode: 'extension' };
  const service = { serviceId: '7', clientId: '3', productId: 1, status: 'Active' };

  test('FusionPBX: tenant, DIDs, extensions from the dedicated IP field', () => {
    const r = serviceRecordFrom({ ...service, domain: 'Acme.Example.com | 5195550100', dedicatedIp: '2001 | 2002' }, fusion);
    assert.equal(r.tenant, 'acme.example.com');
    assert.deepEqual(r.dids, ['5195550100']);
    assert.deepEqual(r.extensions, ['2001', '2002']);
  });

  test('Vodia: the extension in the tenant field counts', () => {
    const r = serviceRecordFrom({ ...service, domain: 'cffm.example.com | 5484815577 | 8300', dedicatedIp: '' }, { ...fusion, kind: 'vodia', suspendMode: 'gateway' });
    assert.deepEqual(r.extensions, ['8300']);
    assert.deepEqual(r.dids, ['5484815577']);
  });

  test('a bad field is a ServiceFieldError naming the service, the field and the token', () => {
    assert.throws(
      () => serviceRecordFrom({ ...service, domain: 'D4E3-CD2B | 12046664021', dedicatedIp: null }, { ...fusion, kind: 'lesnet', suspendMode: 'gateway' }),
      (err: Error) => err instanceof ServiceFieldError && /service 7 \(product 1\): product field Peer \| DID .*peer "D4E3-CD2B"/.test(err.message),
    );
    assert.throws(
      () => serviceRecordFrom({ ...service, domain: 'acme.example.com', dedicatedIp: '2001 | 10.0.0.1/24' }, fusion),
      (err: Error) => err instanceof ServiceFieldError && /"10.0.0.1\/24" is not an extension/.test(err.message),
    );
    assert.throws(() => serviceRecordFrom({ ...service, domain: 'acme.example.com', dedicatedIp: '' }, fusion), /lists no extensions/);
  });
});
