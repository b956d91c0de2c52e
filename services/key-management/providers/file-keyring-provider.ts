import { stat } from 'node:fs/promises';
import { failedPrecondition } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/logger.js';
import { KEY_BYTES, keyCheckValue, randomBytes, zero } from '../envelope.js';
import {
  createKeyringFile,
  keyringFileIsPrivate,
  keyringKeys,
  KeyringError,
  keyringWritable,
  readKeyringFile,
  withKeyringLock,
  writeKeyringFile,
  type MasterKeyring,
} from '../keyring.js';
import { nextVersion, RotationRaceError, type MasterKeyProvider } from './master-key-provider.js';

/** Replaces a keyring's contents in place: every holder of the object sees the change at once. */
export function adoptKeyring(keyring: MasterKeyring, updated: MasterKeyring): void {
  // Every buffer being replaced is wiped: retired versions, and old copies of versions that stay.
  for (const [version, key] of keyring.keys) if (updated.keys.get(version) !== key) zero(key);
  keyring.keys.clear();
  for (const [v, k] of updated.keys) keyring.keys.set(v, k);
  keyring.primary = updated.primary;
}

/** What opening the file keyring asks of the database: whether a new keyring may be generated. */
export interface KeyringStartup {
  holdsWrappedKeys(): Promise<boolean>;
  registeredVersions(): Promise<number[]>;
}

/**
 * Opens the keyring file, or creates one with version 1 on a first start over an empty
 * database; a new keyring is never generated over existing data.
 */
export async function openFileKeyringProvider(file: string, db: KeyringStartup, log: Pick<Logger, 'info' | 'warn'>): Promise<MasterKeyProvider> {
  let keyring = await readKeyringFile(file);
  if (!keyring) {
    if (await db.holdsWrappedKeys()) {
      throw new KeyringError(
        `master keyring ${file} not found, but the database holds keys wrapped by master key version(s) ${(await db.registeredVersions()).join(', ')}. ` +
          'Restore the keyring file; a new keyring is never generated over existing data.',
      );
    }
    keyring = await createKeyringFile(file);
    log.info({ file }, 'created a new master keyring (first start over an empty database)');
  } else if (!(await keyringFileIsPrivate(file))) {
    log.warn({ file }, 'the master keyring file is writable by its group or readable by others; chmod 600 it');
  }
  return fileKeyringProvider(file, keyring, log);
}

/**
 * The file keyring behind the provider interface: versions are 32-byte keys in a JSON file
 * (0600) in the data dir, changed under the file's lock. Whoever can read that file (or a
 * copy of the data dir) can unwrap every data key: docs/crypto.md and the README say so.
 * The file may be read-only (a mounted Kubernetes Secret): the operator then changes it there
 * and every replica picks the change up at its next reload.
 */
export function fileKeyringProvider(file: string, keyring: MasterKeyring, log: Pick<Logger, 'info' | 'warn'>): MasterKeyProvider {
  let fileStamp = '';
  const keys = keyringKeys(keyring);
  return {
    kind: 'file',
    where: `master keyring ${file}`,
    ...keys,
    async reload({ force, destroyed, accept }) {
      const stamp = await fileStampOf(file);
      if (!force && stamp === fileStamp) return false;
      const onDisk = await readKeyringFile(file);
      if (!onDisk) throw new KeyringError(`master keyring ${file} disappeared; keeping the keys already loaded`);
      // A retired version still in a read-only file (until the operator removes it) is not loaded.
      for (const version of [...destroyed].filter((v) => onDisk.keys.has(v))) {
        log.warn({ version, file }, 'the keyring file still holds a retired master key version: remove it');
        zero(onDisk.keys.get(version)!);
        onDisk.keys.delete(version);
      }
      if (!onDisk.keys.has(onDisk.primary)) throw new KeyringError(`master keyring ${file}: its primary version ${onDisk.primary} was retired; make another version the primary`);
      await accept({ ...keyringKeys(onDisk), primary: onDisk.primary });
      const changed = onDisk.primary !== keyring.primary || onDisk.keys.size !== keyring.keys.size;
      adoptKeyring(keyring, onDisk);
      fileStamp = stamp;
      return changed;
    },
    async rotate({ known, audit, register }) {
      // Refused before anything is audited: a read-only keyring (a mounted Secret) changes only there.
      if (!(await keyringWritable(file))) {
        throw failedPrecondition(
          `the master keyring ${file} is read-only (a mounted Secret?): add version ${nextVersion(known, keys.versions())} to it there and make it the primary; ` +
            'every key-management replica picks the change up once the file changes (see deploy/README.md)',
          'KEYRING_READ_ONLY',
        );
      }
      return withKeyringLock(file, async () => {
        const onDisk = (await readKeyringFile(file)) ?? keyring;
        const next = nextVersion(known, [...onDisk.keys.keys()]);
        await audit(next);
        const key = randomBytes(KEY_BYTES);
        const updated: MasterKeyring = { primary: next, keys: new Map([...onDisk.keys, [next, key]]) };
        try {
          await writeKeyringFile(file, updated);
        } catch (err) {
          throw failedPrecondition(
            `cannot write the master keyring ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): when it is mounted read-only, add version ${next} to it and restart`,
            'KEYRING_READ_ONLY',
          );
        }
        if (!(await register(next, keyCheckValue(key)))) {
          // Another replica's version `next` won: this one leaves the file again, unused.
          await writeKeyringFile(file, onDisk);
          throw new RotationRaceError(next);
        }
        adoptKeyring(keyring, updated);
        return next;
      });
    },
    async retire(version, { audit, forget }) {
      if (version === keyring.primary) throw new KeyringError(`master key version ${version} is the primary; rotate first`);
      const writable = await keyringWritable(file);
      await audit();
      if (!writable) {
        // Destroyed in the database: every replica drops it from memory at its next reload and no
        // longer needs it at start; the operator removes it from the read-only file (the Secret).
        await forget();
        const remaining = new Map(keyring.keys);
        remaining.delete(version);
        adoptKeyring(keyring, { primary: keyring.primary, keys: remaining });
        log.warn({ version, file }, 'master key version retired; the keyring file is read-only: remove the version from it (the Secret) and from its escrow');
        return;
      }
      await withKeyringLock(file, async () => {
        const onDisk = (await readKeyringFile(file)) ?? keyring;
        const remaining = new Map(onDisk.keys);
        remaining.delete(version);
        // The database first, as the HSM provider does: a file that still holds a destroyed
        // version only warns at the next reload; a database that references a version the
        // file lost would refuse every start.
        await forget();
        await writeKeyringFile(file, { primary: onDisk.primary, keys: remaining });
        adoptKeyring(keyring, { primary: onDisk.primary, keys: remaining });
      });
    },
    async close() {
      adoptKeyring(keyring, { primary: keyring.primary, keys: new Map() });
    },
  };
}

/** Changes whenever the file is replaced or rewritten (atomic renames and Secret updates included). */
async function fileStampOf(file: string): Promise<string> {
  const s = await stat(file).catch(() => undefined);
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing';
}
