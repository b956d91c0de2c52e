import { readFileSync } from 'node:fs';
import { ConfigError, setting, type Flags } from '../../runtime/config.js';
import type { Pkcs11Settings } from './pkcs11-provider.js';

/** Which master-key provider, and where its keys are (VESSL_MASTER_KEY_PROVIDER, VESSL_PKCS11_*). */
export type MasterKeyProviderSettings = { kind: 'file'; keyringFile: string } | ({ kind: 'pkcs11' } & Pkcs11Settings);

/**
 * `file` (default): the keyring file. `pkcs11`: VESSL_PKCS11_MODULE (the library), the token
 * by VESSL_PKCS11_TOKEN_LABEL or VESSL_PKCS11_SLOT, and the user PIN from VESSL_PKCS11_PIN_FILE
 * (a mounted Secret) or VESSL_PKCS11_PIN. No PIN has a default.
 */
export function masterKeyProviderSettings(flags: Flags, keyringFile: string, env: NodeJS.ProcessEnv = process.env): MasterKeyProviderSettings {
  const kind = setting(flags, 'master-key-provider', env) ?? 'file';
  if (kind === 'file') return { kind, keyringFile };
  if (kind !== 'pkcs11') throw new ConfigError(`VESSL_MASTER_KEY_PROVIDER must be "file" or "pkcs11", not "${kind}"`);
  const modulePath = setting(flags, 'pkcs11-module', env);
  if (!modulePath) throw new ConfigError('VESSL_MASTER_KEY_PROVIDER=pkcs11 needs VESSL_PKCS11_MODULE (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)');
  const tokenLabel = setting(flags, 'pkcs11-token-label', env);
  const slotText = setting(flags, 'pkcs11-slot', env);
  if ((tokenLabel === undefined) === (slotText === undefined)) throw new ConfigError('set exactly one of VESSL_PKCS11_TOKEN_LABEL and VESSL_PKCS11_SLOT');
  if (slotText !== undefined && !/^\d{1,20}$/.test(slotText)) throw new ConfigError(`VESSL_PKCS11_SLOT "${slotText}" is not a slot id`);
  const pinFile = setting(flags, 'pkcs11-pin-file', env);
  const pinEnv = env.VESSL_PKCS11_PIN;
  if ((pinFile === undefined) === (pinEnv === undefined || pinEnv === '')) throw new ConfigError('set exactly one of VESSL_PKCS11_PIN_FILE and VESSL_PKCS11_PIN');
  let pin = pinEnv ?? '';
  if (pinFile !== undefined) {
    try {
      pin = readFileSync(pinFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`cannot read VESSL_PKCS11_PIN_FILE ${pinFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (pin === '') throw new ConfigError('the PKCS#11 PIN is empty');
  return { kind, modulePath, ...(tokenLabel !== undefined ? { tokenLabel } : { slot: Number(slotText) }), pin };
}
