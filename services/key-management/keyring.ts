import { constants } from 'node:fs';
import { access, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createFileExclusive } from '../runtime/files.js';
import { timingSafeEqual } from 'node:crypto';
import { KEY_BYTES, keyCheckValue, randomBytes, unwrapKey, wrapKey } from './envelope.js';
import type { KeyVersions, KeyWrapping } from './providers/master-key-provider.js';

/** Versioned master keys (KEKs). New wraps use the primary; any listed version unwraps. */
export interface MasterKeyring {
  primary: number;
  keys: Map<number, Uint8Array>;
}

interface KeyringFile {
  format: 'vessl-master-keyring/v1';
  primary: number;
  keys: { version: number; key: string; createdAt: string }[];
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

export function kekFor(keyring: MasterKeyring): (version: number) => Uint8Array {
  return (version) => {
    const key = keyring.keys.get(version);
    if (!key) throw new KeyringError(`master key version ${version} is not in the keyring`);
    return key;
  };
}

export async function readKeyringFile(file: string): Promise<MasterKeyring | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyringError(`cannot read master keyring ${file}: ${(err as Error).message}`);
  }
  let parsed: KeyringFile;
  try {
    parsed = JSON.parse(text) as KeyringFile;
  } catch {
    throw new KeyringError(`master keyring ${file} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.format !== 'vessl-master-keyring/v1' || !Array.isArray(parsed.keys)) {
    throw new KeyringError(`master keyring ${file} has an unknown format`);
  }
  const keys = new Map<number, Uint8Array>();
  for (const entry of parsed.keys as unknown[]) {
    const { version, key: encoded } = (typeof entry === 'object' && entry !== null ? entry : {}) as { version?: unknown; key?: unknown };
    const key = Buffer.from(typeof encoded === 'string' ? encoded : '', 'base64');
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || key.length !== KEY_BYTES) {
      throw new KeyringError(`master keyring ${file}: the entry for version ${String(version)} is malformed`);
    }
    if (keys.has(version)) throw new KeyringError(`master keyring ${file}: version ${version} appears twice`);
    keys.set(version, new Uint8Array(key));
  }
  if (!keys.has(parsed.primary)) {
    throw new KeyringError(`master keyring ${file}: primary version ${parsed.primary} is not among its keys`);
  }
  return { primary: parsed.primary, keys };
}

/**
 * Neither writable by its group nor readable by others. Group read is allowed: a Kubernetes
 * Secret volume with an fsGroup gives 0440, the only way a non-root pod can read it.
 */
export async function keyringFileIsPrivate(file: string): Promise<boolean> {
  return ((await stat(file)).mode & 0o027) === 0;
}

/** Whether rotate and retire can rewrite the file (and take the lock beside it). */
export async function keyringWritable(file: string): Promise<boolean> {
  try {
    await access(path.dirname(file), constants.W_OK);
    await access(file, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Creates a new keyring with version 1. Fails if the file already exists (never overwrites). */
export async function createKeyringFile(file: string, now = new Date()): Promise<MasterKeyring> {
  const key = randomBytes(KEY_BYTES);
  const content: KeyringFile = {
    format: 'vessl-master-keyring/v1',
    primary: 1,
    keys: [{ version: 1, key: Buffer.from(key).toString('base64'), createdAt: now.toISOString() }],
  };
  await createFileExclusive(file, JSON.stringify(content, null, 2) + '\n');
  return { primary: 1, keys: new Map([[1, key]]) };
}

export interface RegisteredKek {
  version: number;
  keyCheck: Uint8Array;
}

/** A keyring in memory seen as key versions that wrap and unwrap (the file provider's keys; tests). */
export function keyringKeys(keyring: MasterKeyring): KeyWrapping & KeyVersions {
  const kek = kekFor(keyring);
  return {
    primary: () => keyring.primary,
    versions: () => [...keyring.keys.keys()].sort((a, b) => a - b),
    keyCheck: (version) => keyCheckValue(kek(version)),
    wrap: (key, aad, version = keyring.primary) => wrapKey(kek(version), version, key, aad),
    unwrap: (blob, aad) => unwrapKey(kek, blob, aad),
  };
}

/**
 * Startup safety: the keys (`where`: a keyring file, an HSM token) must hold every KEK version
 * the database has registered, with the same key material. Returns the versions the database
 * does not know yet.
 */
export function checkKeyringAgainstDatabase(keys: KeyVersions, registered: RegisteredKek[], where: string): number[] {
  const present = new Set(keys.versions());
  const missing = registered.filter((r) => !present.has(r.version)).map((r) => r.version);
  if (missing.length > 0) {
    throw new KeyringError(
      `${where} lacks version(s) ${missing.join(', ')}, which the database references; ` +
        'restore the keys that hold them. Refusing to start: values wrapped by those versions would be unreadable.',
    );
  }
  for (const r of registered) {
    const actual = keys.keyCheck(r.version);
    if (actual.length !== r.keyCheck.length || !timingSafeEqual(actual, r.keyCheck)) {
      throw new KeyringError(
        `${where}: version ${r.version} holds a different key than the one the database was written with ` +
          '(wrong keyring file or token?). Refusing to start.',
      );
    }
  }
  const known = new Set(registered.map((r) => r.version));
  return [...present].filter((v) => !known.has(v));
}

/** Replaces the keyring file atomically (written aside at 0600, then renamed over it). */
export async function writeKeyringFile(file: string, keyring: MasterKeyring, now = new Date()): Promise<void> {
  const content: KeyringFile = {
    format: 'vessl-master-keyring/v1',
    primary: keyring.primary,
    keys: [...keyring.keys.entries()]
      .sort(([a], [b]) => a - b)
      .map(([version, key]) => ({ version, key: Buffer.from(key).toString('base64'), createdAt: now.toISOString() })),
  };
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

/**
 * Runs `body` while holding `<file>.lock` (created exclusively), so two processes sharing a
 * keyring file never rotate or retire at the same time. A stale lock older than staleMs is broken.
 */
export async function withKeyringLock<T>(file: string, body: () => Promise<T>, staleMs = 30_000): Promise<T> {
  const lock = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs, () => Date.now()));
      if (age > staleMs) await unlink(lock).catch(() => undefined);
      else if (attempt > 200) throw new KeyringError(`master keyring ${file} is locked by another process (${lock})`);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await body();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}
