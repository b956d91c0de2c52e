import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { hsalsa20 } from './hsalsa20.js';

describe('hsalsa20', () => {
  before(async () => {
    await sodium.ready;
  });

  it("gives NaCl's core1 vector (the crypto_box key of the NaCl test keypairs)", () => {
    const shared = Buffer.from('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742', 'hex');
    expect(Buffer.from(hsalsa20(shared)).toString('hex')).to.equal('1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389');
  });

  it("equals libsodium's crypto_box_beforenm over the X25519 shared secret, for 500 random keypairs", () => {
    for (let i = 0; i < 500; i++) {
      const a = sodium.crypto_box_keypair();
      const b = sodium.crypto_box_keypair();
      const shared = sodium.crypto_scalarmult(a.privateKey, b.publicKey);
      expect(Buffer.from(hsalsa20(shared)).equals(Buffer.from(sodium.crypto_box_beforenm(b.publicKey, a.privateKey))), `pair ${i}`).to.equal(true);
    }
  });

  it('takes a nonce and refuses inputs of the wrong length', () => {
    const key = randomBytes(32);
    expect(Buffer.from(hsalsa20(key, randomBytes(16))).equals(Buffer.from(hsalsa20(key)))).to.equal(false);
    expect(() => hsalsa20(randomBytes(31))).to.throw(/32-byte key/);
    expect(() => hsalsa20(key, randomBytes(24))).to.throw(/16-byte nonce/);
  });
});
