import { randomFillSync } from 'node:crypto';
import sodium from 'libsodium-wrappers';

/**
 * Envelope encryption, as docs/crypto.md describes:
 *   value      -> XChaCha20-Poly1305 under a fresh data key (DEK), AAD = context
 *   DEK        -> XChaCha20-Poly1305 under a master key (KEK) version, AAD = same context
 *   org secret -> XChaCha20-Poly1305 under a KEK version, AAD = "org-key|<org>|<key_id>"
 * Every blob starts with a format byte; wrapped keys also carry their KEK version, so a
 * blob always says which key opens it.
 */

export const KEY_BYTES = 32;
const NONCE_BYTES = 24;
const CIPHERTEXT_FORMAT = 1;
const WRAPPED_KEY_FORMAT = 1;

export async function sodiumReady(): Promise<typeof sodium> {
  await sodium.ready;
  return sodium;
}

/** Random bytes from Node's CSPRNG: far faster than libsodium-wrappers' own generator. */
export function randomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

export const dekContext = (org: string, secretUid: string, version: number) => `dek|${org}|${secretUid}|${version}`;
export const orgKeyContext = (org: string, keyId: string) => `org-key|${org}|${keyId}`;

export class DecryptionError extends Error {
  constructor(what: string) {
    super(`${what} failed to authenticate (wrong key, wrong context or tampered data)`);
    this.name = 'DecryptionError';
  }
}

function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: string): { nonce: Uint8Array; sealed: Uint8Array } {
  const nonce = randomBytes(NONCE_BYTES);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, sodium.from_string(aad), null, nonce, key);
  return { nonce, sealed };
}

function aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: string, what: string): Uint8Array {
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, sodium.from_string(aad), nonce, key);
  } catch {
    throw new DecryptionError(what);
  }
}

/** format(1) | nonce(24) | ciphertext+tag */
export function encryptValue(dek: Uint8Array, plaintext: Uint8Array, aad: string): Uint8Array {
  const { nonce, sealed } = aeadSeal(dek, plaintext, aad);
  return concat(Uint8Array.of(CIPHERTEXT_FORMAT), nonce, sealed);
}

export function decryptValue(dek: Uint8Array, blob: Uint8Array, aad: string): Uint8Array {
  if (blob.length < 1 + NONCE_BYTES + 16 || blob[0] !== CIPHERTEXT_FORMAT) throw new DecryptionError('value');
  return aeadOpen(dek, blob.subarray(1, 1 + NONCE_BYTES), blob.subarray(1 + NONCE_BYTES), aad, 'value');
}

/** format(1) | kek_version(4, big-endian) | nonce(24) | wrapped key+tag */
export function wrapKey(kek: Uint8Array, kekVersion: number, key: Uint8Array, aad: string): Uint8Array {
  const header = new Uint8Array(5);
  header[0] = WRAPPED_KEY_FORMAT;
  new DataView(header.buffer).setUint32(1, kekVersion);
  const { nonce, sealed } = aeadSeal(kek, key, `${aad}|kek-v${kekVersion}`);
  return concat(header, nonce, sealed);
}

export function wrappedKeyVersion(blob: Uint8Array): number {
  if (blob.length < 5 + NONCE_BYTES + 16 || blob[0] !== WRAPPED_KEY_FORMAT) throw new DecryptionError('wrapped key');
  return new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(1);
}

export function unwrapKey(kekFor: (version: number) => Uint8Array, blob: Uint8Array, aad: string): Uint8Array {
  const version = wrappedKeyVersion(blob);
  const nonce = blob.subarray(5, 5 + NONCE_BYTES);
  return aeadOpen(kekFor(version), nonce, blob.subarray(5 + NONCE_BYTES), `${aad}|kek-v${version}`, 'wrapped key');
}

/** Opens a crypto_box_seal box; null when it does not open under this keypair. */
export function openSealedBox(sealedBox: Uint8Array, publicKey: Uint8Array, privateKey: Uint8Array): Uint8Array | null {
  if (sealedBox.length < sodium.crypto_box_SEALBYTES) return null;
  try {
    return sodium.crypto_box_seal_open(sealedBox, publicKey, privateKey);
  } catch {
    return null;
  }
}

export function generateOrgKeypair(): { publicKey: Uint8Array; privateKey: Uint8Array } {
  // X25519 secret keys are 32 random bytes; derive the public half with libsodium.
  const privateKey = randomBytes(sodium.crypto_box_SECRETKEYBYTES);
  const publicKey = sodium.crypto_scalarmult_base(privateKey);
  return { publicKey, privateKey };
}

/** A key check value: proves which key a version holds without revealing it. */
export function keyCheckValue(key: Uint8Array): Uint8Array {
  return sodium.crypto_generichash(16, sodium.from_string('vessl-kek-check-v1'), key);
}

export function zero(...buffers: (Uint8Array | null | undefined)[]): void {
  for (const b of buffers) if (b) sodium.memzero(b);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
