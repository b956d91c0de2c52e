import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { openSealedBox } from '../key-management/envelope.js';
import { sealBox } from './sealed-box.js';

/** sealBox must be crypto_box_seal, byte for byte: whatever opens one opens the other. */
describe('sealBox (crypto_box_seal with Node CSPRNG randomness)', () => {
  let recipient: { publicKey: Uint8Array; privateKey: Uint8Array };

  before(async () => {
    await sodium.ready;
    recipient = sodium.crypto_box_keypair();
  });

  const open = (box: Uint8Array, keys = recipient) => Buffer.from(sodium.crypto_box_seal_open(box, keys.publicKey, keys.privateKey));

  it('opens with libsodium crypto_box_seal_open, for values of every size up to 64 KiB', async () => {
    const sizes = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200, 1000, 4096, 65536];
    const values = [...sizes, ...Array.from({ length: 200 }, (_, i) => (i * 37) % 300)].map((n) => randomBytes(n));
    for (const value of values) {
      const box = await sealBox(value, recipient.publicKey);
      expect(box.length, `size ${value.length}`).to.equal(value.length + sodium.crypto_box_SEALBYTES);
      expect(open(box).equals(value), `size ${value.length}`).to.equal(true);
    }
  });

  it('opens with the server\'s openSealedBox, and libsodium\'s own boxes open there as before', async () => {
    const value = Buffer.from('hf_sealed_on_the_client');
    for (const box of [await sealBox(value, recipient.publicKey), sodium.crypto_box_seal(value, recipient.publicKey)]) {
      expect(Buffer.from(openSealedBox(box, recipient.publicKey, recipient.privateKey)!).equals(value)).to.equal(true);
    }
  });

  it('draws a fresh ephemeral key for every box, so equal values never seal alike', async () => {
    const value = Buffer.from('same value');
    const boxes = await Promise.all(Array.from({ length: 100 }, () => sealBox(value, recipient.publicKey)));
    const ephemeralKeys = new Set(boxes.map((b) => Buffer.from(b.subarray(0, sodium.crypto_box_PUBLICKEYBYTES)).toString('hex')));
    expect(ephemeralKeys.size).to.equal(100);
  });

  it('does not open under another keypair', async () => {
    const box = await sealBox(Buffer.from('for the recipient only'), recipient.publicKey);
    const stranger = sodium.crypto_box_keypair();
    expect(() => open(box, stranger)).to.throw();
    expect(openSealedBox(box, stranger.publicKey, stranger.privateKey)).to.equal(null);
  });

  it('does not open once any byte is changed', async () => {
    const box = await sealBox(Buffer.from('tamper-evident'), recipient.publicKey);
    for (let i = 0; i < box.length; i++) {
      const tampered = Uint8Array.from(box);
      tampered[i] ^= 0x01;
      expect(() => open(tampered), `byte ${i}`).to.throw();
    }
  });
});
