import path from 'node:path';
import { CommandError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { readJsonFile, writePrivateFile, type Connection } from './settings.js';
import { readSecretValue, type ValueSource, type ValueSourceIo } from './value-source.js';

/** An org public key as the CLI uses it: what to seal with, and the id to send along. */
export interface OrgKey {
  keyId: string;
  publicKey: Buffer;
}

export interface SealedValue {
  sealedBox: Buffer;
  keyId: string;
}

/** Where fresh org keys come from (GetOrgPublicKey), and how the server says a key_id is stale. */
export interface OrgKeySource {
  readonly connection: Connection;
  fetchOrgKey(): Promise<OrgKey>;
  isOrgKeyStale(err: unknown): boolean;
}

const KEY_CACHE_FILE = 'keys.json';
/** X25519 public keys are 32 bytes (crypto_box_PUBLICKEYBYTES). */
const PUBLIC_KEY_BYTES = 32;

interface CachedKey {
  keyId: string;
  publicKey: string;
  fetchTime: string;
}

/**
 * The org public key, cached in `<configDir>/keys.json` per endpoint and org so that most
 * writes need no extra round trip. A stale cached key costs one retry (withFreshKeyRetry).
 */
export class OrgKeyCache {
  private readonly configDir: string;
  private readonly file: string;
  private readonly entry: string;
  private current?: OrgKey;

  constructor(private readonly source: OrgKeySource) {
    const { configDir, endpoint, org } = source.connection;
    this.configDir = configDir;
    this.file = path.join(configDir, KEY_CACHE_FILE);
    this.entry = `${endpoint}|${org}`;
  }

  /** The cached key, or a fetched one when nothing usable is cached. */
  async get(): Promise<OrgKey> {
    this.current ??= this.readCached() ?? (await this.refresh());
    return this.current;
  }

  /** True when the server refused a sealed value because its key_id is no longer accepted. */
  isStale(err: unknown): boolean {
    return this.source.isOrgKeyStale(err);
  }

  /** Fetches the key from the server and replaces the cached one. */
  async refresh(): Promise<OrgKey> {
    const key = checkOrgKey(await this.source.fetchOrgKey());
    this.current = key;
    const entries = this.readEntries();
    entries[this.entry] = { keyId: key.keyId, publicKey: key.publicKey.toString('base64'), fetchTime: new Date().toISOString() };
    try {
      writePrivateFile(this.configDir, KEY_CACHE_FILE, `${JSON.stringify(entries, null, 2)}\n`);
    } catch {
      // Best effort: a read-only config dir (CI) only costs a fetch per command.
    }
    return key;
  }

  private readCached(): OrgKey | undefined {
    const cached = this.readEntries()[this.entry];
    if (typeof cached?.keyId !== 'string' || typeof cached.publicKey !== 'string') return undefined;
    const key = { keyId: cached.keyId, publicKey: Buffer.from(cached.publicKey, 'base64') };
    return key.publicKey.length === PUBLIC_KEY_BYTES ? key : undefined;
  }

  private readEntries(): Record<string, Partial<CachedKey> | undefined> {
    try {
      const raw = readJsonFile(this.file);
      return typeof raw === 'object' && raw !== null ? (raw as Record<string, Partial<CachedKey>>) : {};
    } catch {
      return {}; // A broken cache is only a cache: it gets rewritten by the next fetch.
    }
  }
}

function checkOrgKey(key: OrgKey): OrgKey {
  if (key.publicKey.length !== PUBLIC_KEY_BYTES || key.keyId === '') {
    throw new CommandError(`the server sent an unusable org public key (${key.publicKey.length} bytes, key id "${key.keyId}")`, { exitCode: EXIT.SERVER });
  }
  return key;
}

/** Seals `value` for the org with crypto_box_seal: only key-management can open it. */
export async function sealValue(value: Uint8Array, key: OrgKey): Promise<SealedValue> {
  // Loaded on first use: libsodium's WebAssembly start-up would slow every command.
  const { sealBox } = await import('../services/runtime/sealed-box.js');
  return { sealedBox: Buffer.from(await sealBox(value, key.publicKey)), keyId: key.keyId };
}

/**
 * Seals `value` with the org key and passes it to `send`. When the server answers that
 * the key_id is stale (ORG_KEY_STALE after an org key rotation), it refetches the key,
 * reseals and sends once more. It consumes `value`: the plaintext is zeroed when done,
 * success or not (it has to live until then, for the one possible reseal).
 */
export function withFreshKeyRetry<T>(value: Buffer, keys: OrgKeyCache, send: (sealed: SealedValue) => Promise<T>): Promise<T> {
  return withFreshKeyRetryAll([value], keys, ([sealed]) => send(sealed));
}

/**
 * withFreshKeyRetry for several values sent in one call (BatchCreateSecrets): each value is
 * sealed on its own, all under the same key; a stale key reseals them all once. Every
 * plaintext is zeroed when done.
 */
export async function withFreshKeyRetryAll<T>(
  values: Buffer[],
  keys: OrgKeyCache,
  send: (sealed: SealedValue[]) => Promise<T>,
): Promise<T> {
  const sealAll = async (key: OrgKey) => Promise.all(values.map((value) => sealValue(value, key)));
  try {
    try {
      return await send(await sealAll(await keys.get()));
    } catch (err) {
      if (!keys.isStale(err)) throw err;
      return await send(await sealAll(await keys.refresh()));
    }
  } finally {
    for (const value of values) value.fill(0);
  }
}

/**
 * What create and update share: gets the org key first (with nothing cached, a wrong
 * endpoint or token then fails before anyone types a value), reads the value, then seals
 * and sends it through withFreshKeyRetry.
 */
export async function sealAndSend<T>(
  source: OrgKeySource,
  valueSource: ValueSource,
  io: ValueSourceIo,
  send: (sealed: SealedValue) => Promise<T>,
): Promise<T> {
  const keys = new OrgKeyCache(source);
  await keys.get();
  return withFreshKeyRetry(await readSecretValue(valueSource, io), keys, send);
}
