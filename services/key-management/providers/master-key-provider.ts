/**
 * Where the master key versions (KEKs) live, and the only code that touches them: the file
 * keyring (the embedded default: the keys are bytes in a file in the data dir) or an HSM over
 * PKCS#11 (the keys are generated in the token and never leave it; wrapping happens there).
 * Everything above wraps and unwraps through this, never with key bytes.
 */
export interface MasterKeyProvider {
  readonly kind: 'file' | 'pkcs11';
  /** The version new wraps use. */
  primary(): number;
  /** The versions present, ascending. */
  versions(): number[];
  /** Wraps `key` under the primary, bound to `aad`; the blob says which version opens it. */
  wrap(key: Uint8Array, aad: string): Uint8Array;
  /** Opens a blob `wrap` made (any present version); DecryptionError when it does not authenticate. */
  unwrap(blob: Uint8Array, aad: string): Uint8Array;
  /** Proves which key a version holds without revealing it (the database keeps it: a startup check). */
  keyCheck(version: number): Uint8Array;
  /** Makes version max+1, generated where the keys live, and the primary; returns it. */
  rotate(): Promise<number>;
  /** Destroys a version that is not the primary. */
  retire(version: number): Promise<void>;
  close(): Promise<void>;
}

/** A version the provider does not hold (retired, or never there). */
export class MasterKeyMissingError extends Error {
  constructor(version: number, where: string) {
    super(`master key version ${version} is not in ${where}`);
    this.name = 'KeyringError';
  }
}
