/**
 * HSalsa20 with a zero nonce: the step of crypto_box_beforenm that turns an X25519 shared
 * secret into the XSalsa20-Poly1305 key (libsodium-wrappers' standard build does not export
 * crypto_core_hsalsa20). As in NaCl/TweetNaCl: 20 Salsa20 rounds over the constants, the
 * key and the nonce, output words 0, 5, 10, 15, 6, 7, 8, 9. Checked against libsodium's
 * crypto_box_beforenm and NaCl's core1 vector in hsalsa20.test.ts.
 */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

const rotl = (v: number, c: number) => (v << c) | (v >>> (32 - c));

export function hsalsa20(key: Uint8Array, nonce: Uint8Array = new Uint8Array(16)): Uint8Array {
  if (key.length !== 32 || nonce.length !== 16) throw new Error('hsalsa20 takes a 32-byte key and a 16-byte nonce');
  const k = new DataView(key.buffer, key.byteOffset, 32);
  const n = new DataView(nonce.buffer, nonce.byteOffset, 16);
  let x0 = SIGMA[0], x5 = SIGMA[1], x10 = SIGMA[2], x15 = SIGMA[3]; // prettier-ignore
  let x1 = k.getUint32(0, true), x2 = k.getUint32(4, true), x3 = k.getUint32(8, true), x4 = k.getUint32(12, true); // prettier-ignore
  let x11 = k.getUint32(16, true), x12 = k.getUint32(20, true), x13 = k.getUint32(24, true), x14 = k.getUint32(28, true); // prettier-ignore
  let x6 = n.getUint32(0, true), x7 = n.getUint32(4, true), x8 = n.getUint32(8, true), x9 = n.getUint32(12, true); // prettier-ignore
  for (let i = 0; i < 20; i += 2) {
    // Column round.
    x4 ^= rotl((x0 + x12) | 0, 7);
    x8 ^= rotl((x4 + x0) | 0, 9);
    x12 ^= rotl((x8 + x4) | 0, 13);
    x0 ^= rotl((x12 + x8) | 0, 18);
    x9 ^= rotl((x5 + x1) | 0, 7);
    x13 ^= rotl((x9 + x5) | 0, 9);
    x1 ^= rotl((x13 + x9) | 0, 13);
    x5 ^= rotl((x1 + x13) | 0, 18);
    x14 ^= rotl((x10 + x6) | 0, 7);
    x2 ^= rotl((x14 + x10) | 0, 9);
    x6 ^= rotl((x2 + x14) | 0, 13);
    x10 ^= rotl((x6 + x2) | 0, 18);
    x3 ^= rotl((x15 + x11) | 0, 7);
    x7 ^= rotl((x3 + x15) | 0, 9);
    x11 ^= rotl((x7 + x3) | 0, 13);
    x15 ^= rotl((x11 + x7) | 0, 18);
    // Row round.
    x1 ^= rotl((x0 + x3) | 0, 7);
    x2 ^= rotl((x1 + x0) | 0, 9);
    x3 ^= rotl((x2 + x1) | 0, 13);
    x0 ^= rotl((x3 + x2) | 0, 18);
    x6 ^= rotl((x5 + x4) | 0, 7);
    x7 ^= rotl((x6 + x5) | 0, 9);
    x4 ^= rotl((x7 + x6) | 0, 13);
    x5 ^= rotl((x4 + x7) | 0, 18);
    x11 ^= rotl((x10 + x9) | 0, 7);
    x8 ^= rotl((x11 + x10) | 0, 9);
    x9 ^= rotl((x8 + x11) | 0, 13);
    x10 ^= rotl((x9 + x8) | 0, 18);
    x12 ^= rotl((x15 + x14) | 0, 7);
    x13 ^= rotl((x12 + x15) | 0, 9);
    x14 ^= rotl((x13 + x12) | 0, 13);
    x15 ^= rotl((x14 + x13) | 0, 18);
  }
  const out = new Uint8Array(32);
  const o = new DataView(out.buffer);
  [x0, x5, x10, x15, x6, x7, x8, x9].forEach((word, i) => o.setUint32(4 * i, word >>> 0, true));
  return out;
}
