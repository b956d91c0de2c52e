import { KeyringError } from '../keyring.js';

/**
 * Where the master key versions (KEKs) live, and the only code that touches them: the file
 * keyring (the embedded default: the keys are bytes in a file in the data dir) or an HSM over
 * PKCS#11 (the keys are generated in the token and never leave it; wrapping happens there).
 * Everything above wraps and unwraps through this, never with key bytes.
 */
export interface KeyWrapping {
  /** The version new wraps use. */
  primary(): number;
  /** Wraps `key` under `version` (the primary when omitted), bound to `aad`; the blob says which version opens it. */
  wrap(key: Uint8Array, aad: string, version?: number): Uint8Array;
  /** Opens a blob `wrap` made (any present version); DecryptionError when it does not authenticate, a KeyringError when its version is absent. */
  unwrap(blob: Uint8Array, aad: string): Uint8Array;
}

/** A set of master key versions, as the database's startup check sees it. */
export interface KeyVersions {
  /** The versions present, ascending. */
  versions(): number[];
  /** Proves which key a version holds without revealing it (the database keeps it: a startup check). */
  keyCheck(version: number): Uint8Array;
}

/** What a rotation needs from its caller: versions never to reuse, and the audit before the change. */
export interface RotationSteps {
  /** Every version the database has registered (destroyed ones too): the new one is above them all. */
  known: number[];
  /** Records the rotation; throws to refuse it (no audit, no change). */
  audit(version: number): Promise<void>;
  /**
   * Registers the new version's key check in the database, while the change is held
   * exclusively: false when the database holds another key under that version (another
   * replica made it at the same time); a throw leaves it unknown whether it was registered.
   */
  register(version: number, keyCheck: Uint8Array): Promise<boolean>;
}

/** What a retirement needs from its caller. */
export interface RetirementSteps {
  audit(): Promise<void>;
  /** Marks the version destroyed in the database. */
  forget(): Promise<void>;
}

export interface MasterKeyProvider extends KeyWrapping, KeyVersions {
  readonly kind: 'file' | 'pkcs11';
  /** Where the keys live, for messages: `master keyring /data/master-keyring.json`, `HSM token "vessl"`. */
  readonly where: string;
  /**
   * Re-reads the versions where they live (another replica or the operator may have changed
   * them), leaves out the `destroyed` ones, lets `accept` check the candidate (it throws to
   * refuse it: then nothing changes) and adopts it. `force` re-reads even when nothing seems
   * changed. True when the versions or the primary changed.
   */
  reload(opts: { force: boolean; destroyed: Set<number>; accept(candidate: KeyVersions & { primary: number }): Promise<void> }): Promise<boolean>;
  /** Makes version max(known, present)+1, generated where the keys live, and the primary; returns it. */
  rotate(steps: RotationSteps): Promise<number>;
  /** Destroys a version that is not the primary (the caller checked nothing references it). */
  retire(version: number, steps: RetirementSteps): Promise<void>;
  close(): Promise<void>;
}

/** A version the provider does not hold (retired, or never there). */
export class MasterKeyMissingError extends KeyringError {
  constructor(version: number, where: string) {
    super(`master key version ${version} is not in ${where}`);
  }
}

/**
 * Another replica made the same version at the same time and registered it first: this
 * rotation's key was removed again and nothing changed.
 */
export class RotationRaceError extends Error {
  constructor(readonly version: number) {
    super(`another key-management replica made master key version ${version} at the same time; list the master keys and rotate again if needed`);
    this.name = 'RotationRaceError';
  }
}

/** The next version: above every version the database ever registered and every one present. */
export const nextVersion = (known: number[], present: number[]) => Math.max(0, ...known, ...present) + 1;
