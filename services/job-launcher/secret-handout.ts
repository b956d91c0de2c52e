import { status } from '@grpc/grpc-js';
import type { Injection } from '../gen/vessl/secrets/v1/secrets.js';
import { envVarFitOf, unfitVariableError } from '../runtime/env-var-fit.js';
import { ApiError, failedPrecondition } from '../runtime/errors.js';
import type { Logger } from '../runtime/logger.js';
import { BackendError, BackendPreconditionError, type EnvEntry, type SecretEnvEntry, type SecretFileEntry, type SecretFileSupport } from './backend.js';
import type { InjectedSecretRow, SecretRef } from './store.js';

/**
 * How the job launcher gets secret values for something that runs (a job attempt, a
 * workspace run): the secret-store plans where each referenced secret lands and audits what
 * it hands out (secret.referenced); key-management decrypts; when what follows the hand-out
 * fails, the same chain says so before the error goes to the caller. Jobs and workspaces
 * share this, so that both get secrets exactly alike (DESIGN §5).
 */

/** What runs: a job attempt (j_..., attempt) or a workspace run (w_..., run). */
export interface Runner {
  id: string;
  run: number;
}

/** What the launcher needs from secret-store and key-management (through their gRPC clients). */
export interface SecretsPort {
  /**
   * The ciphertext of the secrets the references inject, each once, where each lands, and
   * warnings (planned by the secret-store, which audits what it hands out). `refresh`: a
   * running workspace's file is being rewritten with the current value (audited as such).
   */
  resolveForLaunch(
    org: string,
    refs: SecretRef[],
    plainEnvNames: string[],
    reference: Runner & { onBehalfOf: string; refresh?: boolean },
    requestId: string,
  ): Promise<{ secrets: ResolvedSecret[]; injections: Injection[]; warnings: string[] }>;
  decrypt(org: string, secrets: ResolvedSecret[], requestId: string): Promise<Uint8Array[]>;
  versions(org: string, uids: string[], requestId: string): Promise<{ uid: string; version: number; deleted: boolean }[]>;
  /** Audits (job.launch_failed, workspace.start_failed) a run whose values were handed out and that then did not start. */
  recordLaunchFailure(org: string, failure: Runner & { actor: string; reason: string }, requestId: string): Promise<void>;
  /** Audits another event of the job launcher's (e.g. workspace.file_removed). */
  recordEvent(org: string, event: { actor: string; action: string; details: Record<string, string> }, requestId: string): Promise<void>;
}

export interface ResolvedSecret {
  name: string;
  uid: string;
  key: string;
  version: number;
  ciphertext: Buffer;
  wrappedDek: Buffer;
  kekVersion: number;
}

export interface Actor {
  subject: string;
  requestId: string;
}

/** The secrets of one run, decrypted, and what to record of them (never the values). */
export interface PreparedSecrets {
  injected: InjectedSecretRow[];
  secretEnv: SecretEnvEntry[];
  secretFiles: SecretFileEntry[];
  warnings: string[];
}

const NOTHING_PREPARED = { injected: [], secretEnv: [], secretFiles: [] };

/** A backend failure as the caller sees it: UNAVAILABLE, or FAILED_PRECONDITION when retrying cannot cure it. */
export function backendUnavailable(err: unknown, what = 'job'): unknown {
  if (err instanceof BackendPreconditionError) return failedPrecondition(err.publicMessage, err.reason);
  if (!(err instanceof BackendError)) return err;
  return new ApiError(status.UNAVAILABLE, `the ${what} backend could not do it: ${err.publicMessage}`, { reason: 'BACKEND_UNAVAILABLE' });
}

export class SecretHandout {
  constructor(
    private readonly secrets: SecretsPort,
    private readonly backend: { readonly name: string; readonly secretFiles?: SecretFileSupport },
    private readonly log: Logger,
  ) {}

  /** Where this backend mounts secret files (the server checks paths against them). */
  get secretFileRoots(): readonly string[] {
    return this.backend.secretFiles?.roots ?? [];
  }

  /**
   * Resolves where each secret lands and decrypts only those injected (DESIGN §5). Values
   * are read now: the run keeps them for its whole life, whatever rotates later (a
   * workspace's files excepted: see refreshFile). One call to the secret-store reads every
   * referenced secret (each must be live, also one an --env overrides or one with an explicit
   * variable name: a typo or a deleted secret must not pass unnoticed), plans where each lands
   * from the keys it read, and audits those injected.
   */
  async prepare(org: string, runner: Runner, input: { env: EnvEntry[]; secretRefs: SecretRef[] }, actor: Actor): Promise<PreparedSecrets> {
    if (input.secretRefs.length === 0) return { ...NOTHING_PREPARED, warnings: [] };
    this.refuseUnsupportedFiles(input.secretRefs);
    const { secrets, injections, warnings } = await this.secrets.resolveForLaunch(
      org,
      input.secretRefs,
      input.env.map((e) => e.name),
      { ...runner, onBehalfOf: actor.subject },
      actor.requestId,
    );
    if (injections.length === 0) return { ...NOTHING_PREPARED, warnings };
    return this.afterHandOut(org, runner, actor, async () => {
      const values = await this.secrets.decrypt(org, secrets, actor.requestId);
      const byName = new Map(secrets.map((secret, i) => [secret.name, { secret, value: values[i] }]));
      const targets = injections.map((t) => {
        const found = byName.get(t.secretName);
        if (!found) throw new Error(`secret-store planned to inject "${t.secretName}" but did not hand it out`);
        // The secret-store refuses these from what key-management recorded; values stored
        // before that was recorded are caught here, before the backend gets them. A file holds any bytes.
        const fit = t.filePath ? 'ok' : envVarFitOf(found.value);
        if (fit !== 'ok') throw unfitVariableError(t.secretName, t.envName, fit);
        return { envName: t.envName, filePath: t.filePath, ...found };
      });
      const [files, variables] = [targets.filter((t) => t.filePath), targets.filter((t) => !t.filePath)];
      return {
        injected: targets.map(({ envName, filePath, secret }) => ({ secretName: secret.name, secretUid: secret.uid, envName, filePath, version: secret.version })),
        secretEnv: variables.map(({ envName, secret, value }) => ({ name: envName, value, secretName: secret.name, version: secret.version })),
        secretFiles: files.map(({ filePath, secret, value }) => ({ path: filePath, value, secretName: secret.name, version: secret.version })),
        warnings,
      };
    });
  }

  /**
   * The current value of one secret for a file of a running workspace (audited by the
   * secret-store as a refresh). Undefined when the secret is gone (deleted since).
   */
  async refreshFile(org: string, runner: Runner, ref: { secretName: string; filePath: string }, actor: Actor): Promise<SecretFileEntry | undefined> {
    const { secrets } = await this.secrets.resolveForLaunch(org, [{ secretName: ref.secretName, envName: '', filePath: ref.filePath }], [], { ...runner, onBehalfOf: actor.subject, refresh: true }, actor.requestId);
    const secret = secrets[0];
    if (!secret) return undefined;
    const [value] = await this.secrets.decrypt(org, [secret], actor.requestId);
    return { path: ref.filePath, value, secretName: secret.name, version: secret.version };
  }

  /**
   * Runs what follows the secret-store's hand-out of a run's values (audited there as
   * secret.referenced): if it fails, the run did not start, and the same chain says so
   * (job.launch_failed or workspace.start_failed, with the reason) before the error goes to
   * the caller.
   */
  async afterHandOut<T>(org: string, runner: Runner, actor: Actor, body: () => Promise<T>, handedOut = true): Promise<T> {
    if (!handedOut) return body();
    try {
      return await body();
    } catch (err) {
      const reason = err instanceof BackendError ? err.publicMessage : err instanceof ApiError ? err.message : 'an internal error';
      await this.secrets
        .recordLaunchFailure(org, { ...runner, actor: actor.subject, reason: reason.slice(0, 256) }, actor.requestId)
        .catch((auditErr: unknown) => this.log.error({ err: auditErr, id: runner.id, run: runner.run }, 'recording a failed start failed'));
      throw err;
    }
  }

  /**
   * A backend that cannot mount files safely (the unsandboxed local backend) refuses a run that
   * asks for one before any secret is read or audited.
   */
  private refuseUnsupportedFiles(refs: SecretRef[]): void {
    if (!refs.some((r) => r.filePath)) return;
    const support = this.backend.secretFiles;
    const refusal = support ? support.refusal : `the ${this.backend.name} backend cannot mount secrets as files`;
    if (refusal !== undefined) throw failedPrecondition(refusal, 'SECRET_FILES_UNSUPPORTED');
  }
}
