import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ProductFieldError,
  parseExtensionList,
  parseFusionDomainField,
  parseInboundSearchString,
  parseLesnetPeerField,
  parseVodiaTenantField,
  serviceTarget,
} from '../../src/adapters/pbx/product-fields';

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

describe('Vodia inbound search string', () => {
  test('numbers are extensions, words are first names', () => {
    assert.deepEqual(parseInboundSearchString('cffm, 8300, Kitchener'), { extensions: ['8300'], names: ['cffm', 'Kitchener'] });
  });
  test('rejects empty strings and junk tokens', () => {
    rejects(() => parseInboundSearchString(' , '), /is empty/);
    rejects(() => parseInboundSearchString('8300, <script>'), /"<script>" is neither/);
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
    assert.deepEqual(parseFusionDomainField('mcon.wat5.ictvoip.ca | 5192229000'), { tenant: 'mcon.wat5.ictvoip.ca', mainDid: '5192229000' });
    assert.deepEqual(parseFusionDomainField('mcon.wat5.ictvoip.ca'), { tenant: 'mcon.wat5.ictvoip.ca', mainDid: null });
    rejects(() => parseFusionDomainField('a.example | 5195550100 | 5195550101'), /has more than "tenant \| DID"/);
  });
  test('extension list from the dedicated IP field', () => {
    assert.deepEqual(parseExtensionList('2112 | 2113 | 2114 | 2115 | 2216'), ['2112', '2113', '2114', '2115', '2216']);
    assert.deepEqual(parseExtensionList('2112,2113'), ['2112', '2113']);
    rejects(() => parseExtensionList(' | '), /lists no extensions/);
    rejects(() => parseExtensionList('2112 | 2112'), /listed twice/);
    rejects(() => parseExtensionList('2112 | 10.0.0.1/24'), /"10.0.0.1\/24" is not an extension/);
  });
  test('serviceTarget combines them', () => {
    assert.deepEqual(serviceTarget({ kind: 'fusionpbx', domainField: 'acme.example.com | 5195550100', dedicatedIp: '2001 | 2002' }), {
      tenant: 'acme.example.com',
      extensions: ['2001', '2002'],
    });
    assert.deepEqual(serviceTarget({ kind: 'vodia', domainField: 'cffm.example.com | 5484815577 | 8300', dedicatedIp: '' }), { tenant: 'cffm.example.com' });
  });
});
