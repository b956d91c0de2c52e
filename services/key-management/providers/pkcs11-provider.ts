import { createRequire } from 'node:module';
import { randomFillSync } from 'node:crypto';
import type * as Pkcs11Module from 'pkcs11js';
import { DecryptionError } from '../envelope.js';
import { KeyringError } from '../keyring.js';
import type { KeyringStartup } from './file-keyring-provider.js';
import { MasterKeyMissingError, nextVersion, type MasterKeyProvider } from './master-key-provider.js';

// pkcs11js is a CommonJS native addon; loaded only when this provider is chosen.
const pkcs11js = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Module;

/** Where the token is and how to log in (VESSL_PKCS11_*; provider-settings.ts parses them). */
export interface Pkcs11Settings {
  /** The PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so. */
  modulePath: string;
  /** The token, by its label (preferred: slot ids can change when tokens are added) or slot id. */
  tokenLabel?: string;
  slot?: number;
  /** The user PIN (read from a file or env by the settings; never logged). */
  pin: string;
}

/** Blob: format(1) = 2 | kek_version(4, big-endian) | iv(12) | AES-256-GCM(key) + tag(16). */
const HSM_WRAP_FORMAT = 2;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + 4 + IV_BYTES;
const LABEL_PREFIX = 'vessl-kek-v';

const gcm = (iv: Buffer, aad: string): Pkcs11Module.Mechanism => ({
  mechanism: pkcs11js.CKM_AES_GCM,
  parameter: { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad: Buffer.from(aad), ivBits: IV_BYTES * 8, tagBits: TAG_BYTES * 8 } as Pkcs11Module.AesGCM,
});

export class Pkcs11Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Pkcs11Error';
  }
}

/**
 * Master keys in an HSM. Each version is an AES-256 secret key object labelled
 * `vessl-kek-v<N>`, generated in the token (C_GenerateKey) as sensitive, non-extractable and
 * private: no call returns its bytes, and a copy of the data dir holds none. Wrapping is
 * AES-256-GCM done by the token, with the same AAD as the file keyring's (the context and
 * the version), so a wrapped key moved to another secret or version does not open. The
 * primary is the highest version in the token. One session, logged in as the user; calls are
 * synchronous (SoftHSM answers in microseconds; a network HSM would want a session pool).
 * An empty token gets version 1, unless `startup` says the database holds keys already: a new
 * master key is never generated over existing data.
 */
export async function openPkcs11Provider(settings: Pkcs11Settings, startup?: KeyringStartup): Promise<MasterKeyProvider> {
  const p11 = new pkcs11js.PKCS11();
  try {
    p11.load(settings.modulePath);
  } catch (err) {
    throw new Pkcs11Error(`cannot load the PKCS#11 module ${settings.modulePath}: ${(err as Error).message}`);
  }
  initialise(p11, settings.modulePath);
  let session: Buffer;
  try {
    const slot = findSlot(p11, settings);
    session = p11.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
    try {
      p11.C_Login(session, pkcs11js.CKU_USER, settings.pin);
    } catch (err) {
      const code = (err as Error).message;
      // Already logged in (another session of this process): fine. A wrong PIN is not.
      if (!code.startsWith('CKR_USER_ALREADY_LOGGED_IN')) throw new Pkcs11Error(`cannot log in to the token: ${code.split(':')[0]}`);
    }
  } catch (err) {
    finalise(p11, settings.modulePath);
    throw err;
  }
  const keys = loadVersions(p11, session);
  const where = settings.tokenLabel !== undefined ? `HSM token "${settings.tokenLabel}"` : `HSM slot ${settings.slot}`;

  const keyOf = (version: number) => {
    const handle = keys.get(version);
    if (!handle) throw new MasterKeyMissingError(version, where);
    return handle;
  };
  const versions = () => [...keys.keys()].sort((a, b) => a - b);
  const primary = () => {
    const all = versions();
    if (all.length === 0) throw new Pkcs11Error('the token holds no master key version');
    return all[all.length - 1];
  };

  // The first reload checks the token against the database even when its versions look the same.
  let checked = false;
  const keyCheck = (handle: Buffer) => {
    // The standard key check value: the key's encryption of a zero block (reveals nothing about it).
    p11.C_EncryptInit(session, { mechanism: pkcs11js.CKM_AES_ECB }, handle);
    return new Uint8Array(p11.C_Encrypt(session, Buffer.alloc(16), Buffer.alloc(16)));
  };

  const provider: MasterKeyProvider = {
    kind: 'pkcs11',
    where,
    primary,
    versions,
    wrap(key, aad, version = primary()) {
      const header = Buffer.alloc(HEADER_BYTES);
      header[0] = HSM_WRAP_FORMAT;
      header.writeUInt32BE(version, 1);
      const iv = randomFillSync(header.subarray(5, HEADER_BYTES));
      p11.C_EncryptInit(session, gcm(Buffer.from(iv), contextOf(aad, version)), keyOf(version));
      const sealed = p11.C_Encrypt(session, Buffer.from(key), Buffer.alloc(key.length + TAG_BYTES));
      return new Uint8Array(Buffer.concat([header, sealed]));
    },
    unwrap(blob, aad) {
      if (blob.length < HEADER_BYTES + TAG_BYTES || blob[0] !== HSM_WRAP_FORMAT) throw new DecryptionError('wrapped key');
      const version = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readUInt32BE(1);
      const handle = keyOf(version);
      const iv = Buffer.from(blob.subarray(5, HEADER_BYTES));
      const sealed = Buffer.from(blob.subarray(HEADER_BYTES));
      try {
        p11.C_DecryptInit(session, gcm(iv, contextOf(aad, version)), handle);
        return new Uint8Array(p11.C_Decrypt(session, sealed, Buffer.alloc(sealed.length)));
      } catch {
        // SoftHSM reports a failed tag check as CKR_GENERAL_ERROR; any failure is "does not open".
        throw new DecryptionError('wrapped key');
      }
    },
    keyCheck: (version) => keyCheck(keyOf(version)),
    async reload({ force, destroyed, accept }) {
      const found = loadVersions(p11, session);
      for (const version of [...destroyed].filter((v) => found.has(v))) {
        // Retired in the database but still in the token (its destruction failed): never used again.
        found.delete(version);
      }
      const same = found.size === keys.size && [...found.keys()].every((v) => keys.has(v));
      if (same && !force && checked) return false;
      if (found.size === 0) throw new KeyringError(`${where} holds no master key version`);
      const all = [...found.keys()].sort((a, b) => a - b);
      const handleOf = (v: number) => {
        const handle = found.get(v);
        if (!handle) throw new MasterKeyMissingError(v, where);
        return handle;
      };
      await accept({ primary: all[all.length - 1], versions: () => all, keyCheck: (v) => keyCheck(handleOf(v)) });
      const before = primary();
      keys.clear();
      for (const [v, h] of found) keys.set(v, h);
      checked = true;
      return !same || before !== primary();
    },
    async rotate({ known, audit, register }) {
      // Reread first: another replica sharing the token may have rotated meanwhile.
      for (const [v, h] of loadVersions(p11, session)) keys.set(v, h);
      const next = nextVersion(known, versions());
      await audit(next);
      const handle = generateKek(p11, session, next);
      try {
        await register(next, keyCheck(handle));
      } catch (err) {
        // Not registered, so never used: the token must not keep a version the database does not know.
        p11.C_DestroyObject(session, handle);
        throw err;
      }
      keys.set(next, handle);
      return next;
    },
    async retire(version, { audit, forget }) {
      if (version === primary()) throw new Pkcs11Error(`master key version ${version} is the primary; rotate first`);
      const handle = keyOf(version);
      await audit();
      // The database first: a token that still holds a destroyed version only warns; a database
      // that references a version the token lost would refuse every start.
      await forget();
      keys.delete(version);
      p11.C_DestroyObject(session, handle);
    },
    async close() {
      keys.clear();
      // No C_Logout: the login belongs to the whole process (every session of the token); it
      // ends with the last session, or at C_Finalize.
      p11.C_CloseSession(session);
      finalise(p11, settings.modulePath);
    },
  };
  if (keys.size === 0) {
    if (startup && (await startup.holdsWrappedKeys())) {
      await provider.close();
      throw new KeyringError(
        `${where} holds no master key, but the database holds keys wrapped by master key version(s) ${(await startup.registeredVersions()).join(', ')}. ` +
          'Connect the token that holds them; a new master key is never generated over existing data.',
      );
    }
    keys.set(1, generateKek(p11, session, 1));
  }
  return provider;
}

/**
 * Providers open on each module in this process. A PKCS#11 module is initialised once per
 * process and C_Finalize ends it for every caller: only the last provider to close finalises.
 */
const openOnModule = new Map<string, number>();

function initialise(p11: Pkcs11Module.PKCS11, modulePath: string): void {
  const open = openOnModule.get(modulePath) ?? 0;
  if (open === 0) {
    try {
      p11.C_Initialize();
    } catch (err) {
      // Initialised by other code of this process: share it.
      if (!(err as Error).message.startsWith('CKR_CRYPTOKI_ALREADY_INITIALIZED')) throw new Pkcs11Error(`cannot initialise ${modulePath}: ${(err as Error).message.split(':')[0]}`);
    }
  }
  openOnModule.set(modulePath, open + 1);
}

function finalise(p11: Pkcs11Module.PKCS11, modulePath: string): void {
  const open = (openOnModule.get(modulePath) ?? 1) - 1;
  openOnModule.set(modulePath, open);
  if (open === 0) p11.C_Finalize();
}

/** Same binding as the file keyring's wraps: the context and the version. */
const contextOf = (aad: string, version: number) => `${aad}|kek-v${version}`;

function findSlot(p11: Pkcs11Module.PKCS11, settings: Pkcs11Settings): Buffer {
  const slots = p11.C_GetSlotList(true);
  if (settings.tokenLabel !== undefined) {
    const slot = slots.find((s) => p11.C_GetTokenInfo(s).label.trimEnd() === settings.tokenLabel);
    if (!slot) throw new Pkcs11Error(`no token labelled "${settings.tokenLabel}" in ${settings.modulePath}`);
    return slot;
  }
  const slot = slots.find((s) => s.readBigUInt64LE(0) === BigInt(settings.slot ?? -1));
  if (!slot) throw new Pkcs11Error(`no token in slot ${settings.slot} of ${settings.modulePath}`);
  return slot;
}

/** The token's master key versions: secret keys labelled vessl-kek-v<N>. */
function loadVersions(p11: Pkcs11Module.PKCS11, session: Buffer): Map<number, Buffer> {
  p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }]);
  let handles: Buffer[];
  try {
    handles = p11.C_FindObjects(session, 10_000);
  } finally {
    p11.C_FindObjectsFinal(session);
  }
  const found = new Map<number, Buffer>();
  for (const handle of handles) {
    const [label] = p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_LABEL }]);
    const match = /^vessl-kek-v(\d+)$/.exec(label.value.toString());
    if (match) found.set(Number(match[1]), handle);
  }
  return found;
}

/** A new AES-256 KEK made inside the token, which it never leaves. */
function generateKek(p11: Pkcs11Module.PKCS11, session: Buffer, version: number): Buffer {
  const label = `${LABEL_PREFIX}${version}`;
  return p11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: Buffer.from(label) },
  ]);
}
