// Values are sealed here, in the browser, before any request: crypto_box_seal under the org
// public key, so only the server's key-management can open them. Only the sealed box and the
// key id leave the page.
import { ApiError, kmsApi } from './api';

export interface SealedValueJson {
  sealedBox: string;
  keyId: string;
}

async function sealUnder(plaintext: Uint8Array, org: string): Promise<SealedValueJson> {
  // Loaded on first use: libsodium is most of the bundle, and only forms that seal need it.
  const { default: sodium } = await import('libsodium-wrappers');
  await sodium.ready;
  const key = await kmsApi.getOrgPublicKey({ org });
  if (!key.publicKey || !key.keyId) throw new Error('the server sent no usable org public key');
  const sealed = sodium.crypto_box_seal(plaintext, sodium.from_base64(key.publicKey, sodium.base64_variants.ORIGINAL));
  return { sealedBox: sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL), keyId: key.keyId };
}

/**
 * Seals `value` (its bytes exactly as given) for the org and passes it to `send`. After an
 * org key rotation the server answers ORG_KEY_STALE: the key is fetched again and the value
 * resealed once. This copy of the plaintext is zeroed when done (the form keeps its own until
 * it closes, so a failed submit can be corrected and sent again).
 */
export async function sealAndSend<T>(value: Uint8Array, org: string, send: (sealed: SealedValueJson) => Promise<T>): Promise<T> {
  const plaintext = Uint8Array.from(value);
  try {
    try {
      return await send(await sealUnder(plaintext, org));
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'ORG_KEY_STALE')) throw err;
      return await send(await sealUnder(plaintext, org));
    }
  } finally {
    plaintext.fill(0);
  }
}
