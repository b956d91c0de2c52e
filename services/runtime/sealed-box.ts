import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { hsalsa20 } from './hsalsa20.js';

/** Recipient public keys as OpenSSL key objects (a client seals many values for one org key). */
const recipients = new Map<string, KeyObject>();
const MAX_RECIPIENTS = 16;

function recipientKey(publicKey: Uint8Array): KeyObject {
  const x = Buffer.from(publicKey).toString('base64url');
  let key = recipients.get(x);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    if (recipients.size >= MAX_RECIPIENTS) recipients.delete(recipients.keys().next().value as string);
    recipients.set(x, key);
  }
  return key;
}

/**
 * crypto_box_seal, byte for byte, with both X25519 operations in Node's OpenSSL instead of
 * libsodium-wrappers' WebAssembly (several times slower), and the ephemeral key from
 * OpenSSL's CSPRNG (libsodium-wrappers' own generator is slow too). The construction is
 * libsodium's crypto_box_seal.c:
 *   esk, epk = a fresh X25519 keypair
 *   k        = HSalsa20(X25519(esk, recipient_pk))           (crypto_box_beforenm)
 *   nonce    = BLAKE2b-24(epk || recipient_pk)
 *   out      = epk || XSalsa20-Poly1305(k, nonce, message)   (crypto_box_easy_afternm)
 * Boxes open with any crypto_box_seal_open (sealed-box.test.ts proves it). OpenSSL refuses
 * a recipient key of low order (an all-zero shared secret), as libsodium does. Call after
 * `await sodium.ready` (sealBox does).
 */
export function sealBoxSync(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  if (recipientPublicKey.length !== sodium.crypto_box_PUBLICKEYBYTES) throw new Error(`a recipient public key has ${sodium.crypto_box_PUBLICKEYBYTES} bytes`);
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralPublic = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipientKey(recipientPublicKey) });
  const key = hsalsa20(shared);
  shared.fill(0);
  try {
    const nonceInput = new Uint8Array(ephemeralPublic.length + recipientPublicKey.length);
    nonceInput.set(ephemeralPublic);
    nonceInput.set(recipientPublicKey, ephemeralPublic.length);
    const nonce = sodium.crypto_generichash(sodium.crypto_box_NONCEBYTES, nonceInput, null);
    const box = sodium.crypto_secretbox_easy(message, nonce, key);
    const sealed = new Uint8Array(ephemeralPublic.length + box.length);
    sealed.set(ephemeralPublic);
    sealed.set(box, ephemeralPublic.length);
    return sealed;
  } finally {
    // The box key opens the box as well as the recipient's key does.
    sodium.memzero(key);
  }
}

/** sealBoxSync once libsodium is ready: what clients (vesslctl, tests, bench) seal with. */
export async function sealBox(message: Uint8Array, recipientPublicKey: Uint8Array): Promise<Uint8Array> {
  await sodium.ready;
  return sealBoxSync(message, recipientPublicKey);
}
