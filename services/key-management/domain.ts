import { status } from '@grpc/grpc-js';
import { ApiError, failedPrecondition, inBatchItem, invalidArgument } from '../runtime/errors.js';
import { MAX_VALUE_BYTES } from '../runtime/sealed-value.js';
import {
  decryptValue,
  DecryptionError,
  dekContext,
  encryptValue,
  generateOrgKeypair,
  openSealedBox,
  orgKeyContext,
  randomBytes,
  zero,
  KEY_BYTES,
} from './envelope.js';
import { KeyringError } from './keyring.js';
import type { KeyWrapping } from './providers/master-key-provider.js';
import type { KmsStore, OrgKeyRow } from './store.js';
import { envVarFitOf, type EnvVarFit } from '../runtime/env-var-fit.js';


export interface EncryptedValue {
  ciphertext: Uint8Array;
  wrappedDek: Uint8Array;
  kekVersion: number;
}

/** A sealed value encrypted for storage, with what key-management saw of it while it was open. */
export interface EncryptedSealedValue extends EncryptedValue {
  fingerprint: Uint8Array;
  /** Whether it can be a job's environment variable (never the value itself). */
  envVarFit: EnvVarFit;
}

export interface StoredValue extends EncryptedValue {
  secretUid: string;
  version: number;
}

export const ORG_KEY_STALE = 'ORG_KEY_STALE';

/** Keyed fingerprints of plaintext values (fingerprints.ts, ValueFingerprints). */
export interface ValueFingerprinter {
  of(org: string, value: Uint8Array): Promise<Uint8Array>;
  /** The fingerprints of several values of one org, reading its audit key once. */
  ofMany(org: string, values: Uint8Array[]): Promise<Uint8Array[]>;
}

/** One value of an EncryptSealedValues call (the org is the call's). */
export interface SealedValueToEncrypt {
  secretUid: string;
  version: number;
  sealedBox: Uint8Array;
  keyId: string;
}

/** key-management's logic: org keypairs, sealed-value opening, envelope encryption. */
export class KeyManager {
  constructor(
    private readonly store: Pick<KmsStore, 'primaryOrgKey' | 'orgKey' | 'insertPrimaryOrgKey'>,
    private readonly keys: KeyWrapping,
    private readonly fingerprints: ValueFingerprinter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The org's primary keypair, created on first use; concurrent first uses agree on one. */
  async orgPublicKey(org: string): Promise<OrgKeyRow> {
    const existing = await this.store.primaryOrgKey(org);
    if (existing) return existing;
    const created = this.newOrgKey(org);
    if (await this.store.insertPrimaryOrgKey(created)) return created;
    const winner = await this.store.primaryOrgKey(org);
    if (!winner) throw new Error(`org key for ${org} vanished after a lost creation race`);
    return winner;
  }

  /** A fresh primary keypair for the org (not stored), its private half wrapped by the primary KEK. */
  newOrgKey(org: string): OrgKeyRow {
    const keyId = `ok_${Buffer.from(randomBytes(12)).toString('base64url')}`;
    const { publicKey, privateKey } = generateOrgKeypair();
    const kekVersion = this.keys.primary();
    const wrappedPrivateKey = this.keys.wrap(privateKey, orgKeyContext(org, keyId), kekVersion);
    zero(privateKey);
    return { keyId, org, state: 'primary', publicKey, wrappedPrivateKey, kekVersion, createdAt: this.now().getTime() };
  }

  /**
   * Opens a value sealed under one of the org's keys, encrypts it under a fresh data key
   * wrapped by the primary master key, and fingerprints it. The plaintext lives only inside
   * this call.
   */
  async encryptSealedValue(req: SealedValueToEncrypt & { org: string }): Promise<EncryptedSealedValue> {
    const [encrypted] = await this.encryptEach(req.org, [req], (err) => err);
    return encrypted;
  }

  /**
   * encryptSealedValue for several values of one org, all or none: each org key is read and
   * unwrapped once, and the audit key once. The error of a value names it (requests[i]).
   */
  async encryptSealedValues(org: string, values: SealedValueToEncrypt[]): Promise<(EncryptedSealedValue)[]> {
    return this.encryptEach(org, values, (err, i) => inBatchItem(err, `requests[${i}].`));
  }

  /** Both of the above; `blame` turns a value's error into the call's. */
  private async encryptEach(
    org: string,
    values: SealedValueToEncrypt[],
    blame: (err: unknown, index: number) => unknown,
  ): Promise<(EncryptedSealedValue)[]> {
    const privateKeys = new Map<string, { orgKey: OrgKeyRow; privateKey: Uint8Array }>();
    const plaintexts: Uint8Array[] = [];
    try {
      for (const [i, value] of values.entries()) {
        try {
          let key = privateKeys.get(value.keyId);
          if (!key) {
            const orgKey = await this.currentOrgKey(org, value.keyId);
            key = { orgKey, privateKey: this.unwrap(orgKey.wrappedPrivateKey, orgKeyContext(orgKey.org, orgKey.keyId)) };
            privateKeys.set(value.keyId, key);
          }
          plaintexts.push(this.openWith(key.orgKey, key.privateKey, value.sealedBox));
        } catch (err) {
          throw blame(err, i);
        }
      }
      const fingerprints = await this.fingerprints.ofMany(org, plaintexts);
      return plaintexts.map((plaintext, i) => ({
        ...this.encrypt(org, values[i].secretUid, values[i].version, plaintext),
        fingerprint: fingerprints[i],
        envVarFit: envVarFitOf(plaintext),
      }));
    } finally {
      zero(...plaintexts);
      for (const { privateKey } of privateKeys.values()) zero(privateKey);
    }
  }

  /**
   * Opens a value sealed under one of the org's non-retired keys and checks it (non-empty,
   * at most 64 KiB). The caller must zero the result.
   */
  async openSealedValue(req: { org: string; sealedBox: Uint8Array; keyId: string }): Promise<Uint8Array> {
    const orgKey = await this.currentOrgKey(req.org, req.keyId);
    const privateKey = this.unwrap(orgKey.wrappedPrivateKey, orgKeyContext(orgKey.org, orgKey.keyId));
    try {
      return this.openWith(orgKey, privateKey, req.sealedBox);
    } finally {
      zero(privateKey);
    }
  }

  /** The org key a value was sealed under, if it still opens values (not retired). */
  private async currentOrgKey(org: string, keyId: string): Promise<OrgKeyRow> {
    const orgKey = await this.store.orgKey(org, keyId);
    if (!orgKey || orgKey.state === 'retired') {
      throw failedPrecondition(
        `key_id "${keyId}" is not a current key of org "${org}"; fetch the org public key again and reseal the value`,
        ORG_KEY_STALE,
      );
    }
    return orgKey;
  }

  /** Opens a sealed box with the org key's private half and checks the value; the caller zeroes it. */
  private openWith(orgKey: OrgKeyRow, privateKey: Uint8Array, sealedBox: Uint8Array): Uint8Array {
    const plaintext = openSealedBox(sealedBox, orgKey.publicKey, privateKey);
    if (!plaintext) {
      throw invalidArgument(
        'sealed_box',
        `does not open with org key "${orgKey.keyId}"; seal the value with crypto_box_seal under that key's public key`,
      );
    }
    if (plaintext.length === 0 || plaintext.length > MAX_VALUE_BYTES) {
      const length = plaintext.length;
      zero(plaintext);
      if (length === 0) throw invalidArgument('sealed_box', 'the value is empty; a secret value must not be empty');
      throw invalidArgument('sealed_box', `the value is ${length} bytes; at most ${MAX_VALUE_BYTES} (64 KiB) are allowed`);
    }
    return plaintext;
  }

  private encrypt(org: string, secretUid: string, version: number, plaintext: Uint8Array): EncryptedValue {
    const aad = dekContext(org, secretUid, version);
    const dek = randomBytes(KEY_BYTES);
    const kekVersion = this.keys.primary();
    try {
      const ciphertext = encryptValue(dek, plaintext, aad);
      const wrappedDek = this.keys.wrap(dek, aad, kekVersion);
      return { ciphertext, wrappedDek, kekVersion };
    } finally {
      zero(dek);
    }
  }

  /** Decrypts stored values for a job launch. The caller must zero the results after use. */
  decryptForInjection(org: string, values: StoredValue[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    try {
      for (const v of values) {
        const aad = dekContext(org, v.secretUid, v.version);
        const dek = this.unwrap(v.wrappedDek, aad, v.secretUid);
        try {
          out.push(decryptValue(dek, v.ciphertext, aad));
        } catch (err) {
          throw this.corrupt(err, v.secretUid);
        } finally {
          zero(dek);
        }
      }
      return out;
    } catch (err) {
      zero(...out);
      throw err;
    }
  }

  private unwrap(blob: Uint8Array, aad: string, secretUid?: string): Uint8Array {
    try {
      return this.keys.unwrap(blob, aad);
    } catch (err) {
      if (err instanceof KeyringError) {
        throw failedPrecondition(`${err.message}; the operator must restore it`, 'MASTER_KEY_MISSING');
      }
      throw this.corrupt(err, secretUid);
    }
  }

  private corrupt(err: unknown, secretUid?: string): unknown {
    if (!(err instanceof DecryptionError)) return err;
    const what = secretUid ? `the stored value of secret ${secretUid}` : 'a stored org key';
    return new ApiError(status.DATA_LOSS, `${what} failed to authenticate; it was altered or does not belong to this context`, {
      reason: 'CIPHERTEXT_INVALID',
    });
  }
}
