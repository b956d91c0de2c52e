import type { Violations } from './validation.js';

/** Secret values are at most 64 KiB (DESIGN §4). */
export const MAX_VALUE_BYTES = 64 * 1024;
/**
 * The values one job attempt may get, together (64 KiB each, 8 such values): they travel in
 * one decrypt call (1 MiB per message) and, as variables, in one environment.
 */
export const MAX_ATTEMPT_SECRET_BYTES = 512 * 1024;
/** crypto_box_seal adds an ephemeral public key (32 bytes) and a MAC (16 bytes). */
export const SEALED_BOX_OVERHEAD = 48;
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Shape checks on a sealed value, before anyone tries to open it. Fields are named
 * `<prefix>sealed_box` and `<prefix>key_id` (prefix "value." in secret-store, "" in kms).
 */
export function checkSealedValue(v: Violations, value: { sealedBox: Buffer; keyId: string } | undefined, prefix: string): void {
  if (!value) {
    v.add(prefix.replace(/\.$/, '') || 'sealed_box', 'is required: the value sealed with the org public key');
    return;
  }
  const field = `${prefix}sealed_box`;
  if (value.sealedBox.length === 0) v.add(field, 'is required: the value sealed with crypto_box_seal');
  else if (value.sealedBox.length <= SEALED_BOX_OVERHEAD) v.add(field, 'is too short to be a sealed box holding a value');
  else if (value.sealedBox.length > MAX_VALUE_BYTES + SEALED_BOX_OVERHEAD) {
    v.add(field, 'is larger than a sealed 64 KiB value; secret values are at most 64 KiB');
  }
  v.check(KEY_ID_PATTERN.test(value.keyId), `${prefix}key_id`, 'is required: the key_id returned with the org public key');
}
