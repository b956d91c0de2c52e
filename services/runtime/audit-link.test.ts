import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { auditDigest } from '../secret-store/audit.js';
import { packageRoot } from './repo-files.js';
import { auditLink, chainKeyOf, checkpointMessage, checkpointSeedOf, GENESIS_LINK, linkEvents, sha256 } from './audit-link.js';

/** The known-answer vector as docs/crypto.md publishes it (the block under its heading). */
function publishedVector(): Record<string, string> {
  const doc = readFileSync(path.join(packageRoot(), 'docs/crypto.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### Known-answer vector'));
  const block = /```\n([\s\S]*?)```/.exec(section)![1];
  return Object.fromEntries(block.trim().split('\n').map((line) => line.split(/\s+(.*)/s).slice(0, 2) as [string, string]));
}

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('audit chain links (docs/crypto.md)', () => {
  let v: Record<string, string>;
  const event = {
    org: 'acme',
    time: 1790000000000,
    actor: 'ada@acme',
    action: 'secret.created' as const,
    secretName: 'HF',
    secretUid: 's_0123456789ab',
    secretVersion: 1,
    requestId: 'req-kat-00000001',
    details: { key: 'HF_TOKEN' },
  };

  before(async () => {
    await sodium.ready;
    v = publishedVector();
  });

  it('derives the published chain key from the audit key', () => {
    expect(hex(chainKeyOf(bytes(v.audit_key)))).to.equal(v.chain_key);
  });

  it('digests the event\'s published canonical form', () => {
    expect(hex(auditDigest(1, event))).to.equal(v.digest);
    expect(hex(sha256(v.canonical))).to.equal(v.digest);
  });

  it('links the event to the published link after the genesis link', () => {
    expect(v.prev_link).to.equal(hex(GENESIS_LINK));
    expect(hex(auditLink(bytes(v.chain_key), bytes(v.prev_link), 1, bytes(v.digest)))).to.equal(v.link);
  });

  it('signs the published checkpoint with the key derived from the audit key', () => {
    const pair = sodium.crypto_sign_seed_keypair(checkpointSeedOf(bytes(v.audit_key)));
    expect(hex(pair.publicKey)).to.equal(v.checkpoint_pk);
    const message = checkpointMessage({ org: 'acme', seq: 1, link: bytes(v.link), keyedFrom: 1, time: Number(v.checkpoint_time) });
    expect(hex(sodium.crypto_sign_detached(message, pair.privateKey))).to.equal(v.checkpoint_sig);
    expect(sodium.crypto_sign_verify_detached(bytes(v.checkpoint_sig), message, bytes(v.checkpoint_pk))).to.equal(true);
  });

  const changes: Array<{ name: string; link(key: Uint8Array, digest: Uint8Array): Uint8Array }> = [
    { name: 'another key', link: (_key, digest) => auditLink(new Uint8Array(32).fill(1), GENESIS_LINK, 1, digest) },
    { name: 'another seq', link: (key, digest) => auditLink(key, GENESIS_LINK, 2, digest) },
    { name: 'another previous link', link: (key, digest) => auditLink(key, new Uint8Array(32).fill(255), 1, digest) },
    { name: 'another event', link: (key) => auditLink(key, GENESIS_LINK, 1, auditDigest(1, { ...event, actor: 'mallory' })) },
  ];
  for (const c of changes) {
    it(`gives another link for ${c.name}`, () => {
      expect(hex(c.link(bytes(v.chain_key), bytes(v.digest)))).to.not.equal(v.link);
    });
  }

  it('chains inputs without a previous link onto the link computed before them', () => {
    const key = bytes(v.chain_key);
    const d2 = auditDigest(2, { ...event, action: 'secret.deleted' });
    const [l1, l2] = linkEvents(key, [{ seq: 1, digest: bytes(v.digest), prevLink: GENESIS_LINK }, { seq: 2, digest: d2 }]);
    expect(hex(l1)).to.equal(v.link);
    expect(hex(l2)).to.equal(hex(auditLink(key, l1, 2, d2)));
    expect(() => linkEvents(key, [{ seq: 1, digest: d2 }])).to.throw(RangeError);
  });
});
