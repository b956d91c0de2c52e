import { randomFillSync } from 'node:crypto';
import sodium from 'libsodium-wrappers';

/**
 * crypto_box_seal, byte for byte, with the ephemeral secret key drawn from Node's CSPRNG.
 * libsodium-wrappers' own generator makes its crypto_box_seal ~2,500 calls/s; this is the
 * same construction (libsodium's crypto_box_seal.c) at several times the rate:
 *   esk   = 32 random bytes, epk = X25519(esk, basepoint)      (crypto_box_keypair)
 *   nonce = BLAKE2b-24(epk || recipient_pk)
 *   out   = epk || crypto_box_easy(message, nonce, recipient_pk, esk)
 * Boxes open with any crypto_box_seal_open (sealed-box.test.ts proves it). Call after
 * `await sodium.ready` (sealValue does).
 */
export function sealBoxSync(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  const ephemeralSecret = randomFillSync(new Uint8Array(sodium.crypto_box_SECRETKEYBYTES));
  try {
    const ephemeralPublic = sodium.crypto_scalarmult_base(ephemeralSecret);
    const nonceInput = new Uint8Array(ephemeralPublic.length + recipientPublicKey.length);
    nonceInput.set(ephemeralPublic);
    nonceInput.set(recipientPublicKey, ephemeralPublic.length);
    const nonce = sodium.crypto_generichash(sodium.crypto_box_NONCEBYTES, nonceInput, null);
    const box = sodium.crypto_box_easy(message, nonce, recipientPublicKey, ephemeralSecret);
    const sealed = new Uint8Array(ephemeralPublic.length + box.length);
    sealed.set(ephemeralPublic);
    sealed.set(box, ephemeralPublic.length);
    return sealed;
  } finally {
    // The ephemeral secret opens the box as well as the recipient's key does.
    sodium.memzero(ephemeralSecret);
  }
}

/** sealBoxSync once libsodium is ready: what clients (vesslctl, tests, bench) seal with. */
export async function sealBox(message: Uint8Array, recipientPublicKey: Uint8Array): Promise<Uint8Array> {
  await sodium.ready;
  return sealBoxSync(message, recipientPublicKey);
}
