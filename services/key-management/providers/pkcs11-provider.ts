import { createRequire } from 'node:module';
import { randomBytes, randomFillSync } from 'node:crypto';
import { realpathSync } from 'node:fs';
import type * as Pkcs11Module from 'pkcs11js';
import { DecryptionError } from '../envelope.js';
import { KeyringError } from '../keyring.js';
import type { KeyringStartup } from './file-keyring-provider.js';
import { MasterKeyMissingError, nextVersion, RotationRaceError, type MasterKeyProvider } from './master-key-provider.js';
import { status } from '@grpc/grpc-js';
import { ApiError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/logger.js';

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
/** What C_Decrypt answers when the GCM tag does not check. */
const TAG_FAILURES = new Set(['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE', 'CKR_GENERAL_ERROR']);

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
export async function openPkcs11Provider(settings: Pkcs11Settings, startup?: KeyringStartup, log?: Pick<Logger, 'warn'>): Promise<MasterKeyProvider> {
  const p11 = new pkcs11js.PKCS11();
  let module: string;
  try {
    module = realpathSync(settings.modulePath);
    p11.load(module);
  } catch (err) {
    throw new Pkcs11Error(`cannot load the PKCS#11 module ${settings.modulePath}: ${(err as Error).message}`);
  }
  initialise(p11, module);
  const where = settings.tokenLabel !== undefined ? `HSM token "${settings.tokenLabel}"` : `HSM slot ${settings.slot}`;
  let session: Buffer | undefined;
  let keys: Map<number, Buffer>;
  try {
    const slot = findSlot(p11, settings);
    session = p11.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
    logIn(p11, session, `${module}#${slot.toString('hex')}`, settings.pin);
    keys = loadVersions(p11, session, where);
  } catch (err) {
    if (session) p11.C_CloseSession(session);
    finalise(p11, module);
    throw err;
  }
  const open = session;

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
    return hsmCall(where, () => {
      p11.C_EncryptInit(open, { mechanism: pkcs11js.CKM_AES_ECB }, handle);
      return new Uint8Array(p11.C_Encrypt(open, Buffer.alloc(16), Buffer.alloc(16)));
    });
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
      const handle = keyOf(version);
      const sealed = hsmCall(where, () => {
        p11.C_EncryptInit(open, gcm(Buffer.from(iv), contextOf(aad, version)), handle);
        return p11.C_Encrypt(open, Buffer.from(key), Buffer.alloc(key.length + TAG_BYTES));
      });
      return new Uint8Array(Buffer.concat([header, sealed]));
    },
    unwrap(blob, aad) {
      if (blob.length < HEADER_BYTES + TAG_BYTES || blob[0] !== HSM_WRAP_FORMAT) throw new DecryptionError('wrapped key');
      const version = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readUInt32BE(1);
      const handle = keyOf(version);
      const iv = Buffer.from(blob.subarray(5, HEADER_BYTES));
      const sealed = Buffer.from(blob.subarray(HEADER_BYTES));
      // A token that cannot start the operation (its session lost, the key gone) is unavailable;
      // only a decryption that ran and failed means the wrapped key does not open.
      hsmCall(where, () => p11.C_DecryptInit(open, gcm(iv, contextOf(aad, version)), handle));
      try {
        return new Uint8Array(p11.C_Decrypt(open, sealed, Buffer.alloc(sealed.length)));
      } catch (err) {
        // A failed tag check: CKR_ENCRYPTED_DATA_INVALID per the standard; SoftHSM says
        // CKR_GENERAL_ERROR. Anything else is the token failing, not the blob.
        const code = (err as Error).message.split(':')[0];
        if (TAG_FAILURES.has(code)) throw new DecryptionError('wrapped key');
        return hsmCall(where, () => {
          throw err;
        });
      }
    },
    keyCheck: (version) => keyCheck(keyOf(version)),
    async reload({ force, destroyed, accept }) {
      const found = loadVersions(p11, open, where);
      for (const version of [...destroyed].filter((v) => found.has(v))) {
        // Retired in the database, but its destruction in the token did not happen (a crash
        // between the two): never used again, and destroyed now.
        log?.warn({ version, token: where }, 'the token still held a retired master key version: destroying it');
        hsmCall(where, () => p11.C_DestroyObject(open, found.get(version)!));
        found.delete(version);
      }
      // The same versions, and each still the same key object (not another copy under its label).
      const same = found.size === keys.size && [...found].every(([v, h]) => keys.get(v)?.equals(h));
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
      // Above every version in the token too (another replica may have made one not yet
      // registered); those versions are used only once a checked reload adopts them.
      const next = nextVersion(known, [...versions(), ...loadVersions(p11, open, where).keys()]);
      await audit(next);
      const handle = hsmCall(where, () => generateKek(p11, open, next));
      if (!(await register(next, keyCheck(handle)))) {
        // Another replica's version `next` is registered: this key was never used; it goes.
        hsmCall(where, () => p11.C_DestroyObject(open, handle));
        throw new RotationRaceError(next);
      }
      // (A throw from register leaves the key: it may be registered, and if it is not, the next
      // sync registers it, as with any version found in the token.)
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
      hsmCall(where, () => p11.C_DestroyObject(open, handle));
    },
    async close() {
      keys.clear();
      // No C_Logout: the login belongs to the whole process (every session of the token); it
      // ends with the last session, or at C_Finalize.
      p11.C_CloseSession(open);
      finalise(p11, module);
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
    keys.set(1, hsmCall(where, () => generateKek(p11, open, 1)));
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
  if (open > 0) return;
  p11.C_Finalize();
  // Finalising logs every token of the module out: the next session logs in afresh.
  for (const token of [...loggedIn.keys()]) if (token.startsWith(`${modulePath}#`)) loggedIn.delete(token);
}

/** The PIN each token of this process was logged in with: a second session must bring the same. */
const loggedIn = new Map<string, string>();

function logIn(p11: Pkcs11Module.PKCS11, session: Buffer, token: string, pin: string): void {
  try {
    p11.C_Login(session, pkcs11js.CKU_USER, pin);
    loggedIn.set(token, pin);
  } catch (err) {
    const code = (err as Error).message.split(':')[0];
    // Logged in already by another session of this process: the login is shared, so a wrong
    // PIN would pass unnoticed unless it is compared with the one that logged in.
    if (code === 'CKR_USER_ALREADY_LOGGED_IN' && loggedIn.get(token) === pin) return;
    throw new Pkcs11Error(`cannot log in to the token: ${code === 'CKR_USER_ALREADY_LOGGED_IN' ? 'CKR_PIN_INCORRECT' : code}`);
  }
}

/** A token operation; a failure to run it (session lost, key gone) is UNAVAILABLE, never "altered". */
function hsmCall<T>(where: string, call: () => T): T {
  try {
    return call();
  } catch (err) {
    const code = (err as Error).message.split(':')[0];
    throw new ApiError(status.UNAVAILABLE, `${where} did not perform the operation (${code}); check the HSM and retry`, { reason: 'HSM_UNAVAILABLE' });
  }
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

/**
 * The token's master key versions: secret keys labelled vessl-kek-v<N>. Two keys under one
 * label (a replica that lost a rotation race and died before removing its copy) are refused:
 * which one the database registered is the operator's to check.
 */
function loadVersions(p11: Pkcs11Module.PKCS11, session: Buffer, where: string): Map<number, Buffer> {
  const handles = hsmCall(where, () => {
    p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }]);
    try {
      return p11.C_FindObjects(session, 10_000);
    } finally {
      p11.C_FindObjectsFinal(session);
    }
  });
  const found = new Map<number, Buffer>();
  const twice = new Map<number, string[]>();
  for (const handle of handles) {
    const [label, id] = hsmCall(where, () => p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_LABEL }, { type: pkcs11js.CKA_ID }]));
    const match = /^vessl-kek-v(\d+)$/.exec(label.value.toString());
    if (!match) continue;
    const version = Number(match[1]);
    if (found.has(version)) twice.set(version, [...(twice.get(version) ?? []), id.value.toString('hex')]);
    else found.set(version, handle);
  }
  if (twice.size > 0) {
    const [version] = twice.keys();
    throw new KeyringError(
      `${where} holds more than one key labelled ${LABEL_PREFIX}${version}; delete the one whose key check value (its AES-ECB encryption of a zero block) ` +
        `differs from kms_kek_versions.key_check of version ${version}, then start again`,
    );
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
    // A random id: two keys under one label (see loadVersions) can be told apart.
    { type: pkcs11js.CKA_ID, value: randomBytes(16) },
  ]);
}
