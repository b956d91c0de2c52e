import { keyCheckValue, KEY_BYTES, randomBytes, unwrapKey, wrapKey } from '../envelope.js';
import { adoptKeyring } from '../keyring-sync.js';
import { kekFor, KeyringError, readKeyringFile, withKeyringLock, writeKeyringFile, type MasterKeyring } from '../keyring.js';
import type { MasterKeyProvider } from './master-key-provider.js';

/**
 * The file keyring behind the provider interface: versions are 32-byte keys in a JSON file
 * (0600) in the data dir, changed under the file's lock. Whoever can read that file (or a
 * copy of the data dir) can unwrap every data key: docs/crypto.md and the README say so.
 */
export function fileKeyringProvider(file: string, keyring: MasterKeyring): MasterKeyProvider {
  const versionsOf = () => [...keyring.keys.keys()].sort((a, b) => a - b);
  return {
    kind: 'file',
    primary: () => keyring.primary,
    versions: versionsOf,
    wrap: (key, aad) => wrapKey(kekFor(keyring)(keyring.primary), keyring.primary, key, aad),
    unwrap: (blob, aad) => unwrapKey(kekFor(keyring), blob, aad),
    keyCheck: (version) => keyCheckValue(kekFor(keyring)(version)),
    async rotate() {
      return withKeyringLock(file, async () => {
        const onDisk = (await readKeyringFile(file)) ?? keyring;
        const next = Math.max(0, ...onDisk.keys.keys()) + 1;
        const updated: MasterKeyring = { primary: next, keys: new Map([...onDisk.keys, [next, randomBytes(KEY_BYTES)]]) };
        await writeKeyringFile(file, updated);
        adoptKeyring(keyring, updated);
        return next;
      });
    },
    async retire(version) {
      if (version === keyring.primary) throw new KeyringError(`master key version ${version} is the primary; rotate first`);
      await withKeyringLock(file, async () => {
        const onDisk = (await readKeyringFile(file)) ?? keyring;
        const keys = new Map(onDisk.keys);
        keys.delete(version);
        await writeKeyringFile(file, { primary: onDisk.primary, keys });
        adoptKeyring(keyring, { primary: onDisk.primary, keys });
      });
    },
    async close() {
      adoptKeyring(keyring, { primary: keyring.primary, keys: new Map() });
    },
  };
}
