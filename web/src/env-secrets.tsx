// The Environment variables and Secrets sections that every workload form shares (New job, New
// workspace): the rows, what is sent, where the server's answers about them land, and the secret
// picker with "as variable" / "as a file at". A form owns the rest (name, image, command, submit).
import { useEffect, useState } from 'react';
import { secretsApi, type Secret } from './api';
import { SECRETS_DIR } from '../../services/runtime/secret-file-paths.js';
import type { FieldChecks, FormErrors, FormField } from './forms';
import { ErrorMessage } from './ui';

export interface EnvRow {
  name: string;
  value: string;
}

/** A picked secret and where it lands: a variable (its key, or the name given) or a file at a path. */
export interface SecretRow {
  secretName: string;
  as: 'variable' | 'file';
  envName: string;
  filePath: string;
}

/** A secret reference as the API takes it (SecretReference). */
export interface SentSecret {
  secretName: string;
  envName: string;
  filePath: string;
}

const NO_ENV: EnvRow = { name: '', value: '' };
const NO_SECRET: SecretRow = { secretName: '', as: 'variable', envName: '', filePath: '' };

/** Where a secret picked as a file goes unless the user says otherwise. */
export const suggestedFilePath = (secretName: string) => `${SECRETS_DIR}${secretName}`;

/** A stored reference as a form row (Clone job starts from these). */
export const secretRowOf = (ref: { secretName?: string; envName?: string; filePath?: string }): SecretRow => ({
  secretName: ref.secretName ?? '',
  as: ref.filePath ? 'file' : 'variable',
  envName: ref.envName ?? '',
  filePath: ref.filePath ?? '',
});

/**
 * `row` with `patch`, keeping the file path suggested while the user has not changed it: it
 * follows the secret picked, and appears when the row switches to "as a file".
 */
function withSecretPatch(row: SecretRow, patch: Partial<SecretRow>): SecretRow {
  const next = { ...row, ...patch };
  const suggested = row.filePath === '' || row.filePath === suggestedFilePath(row.secretName);
  if (next.as === 'file' && suggested && patch.filePath === undefined && next.secretName !== '') next.filePath = suggestedFilePath(next.secretName);
  return next;
}

/** A row's error after what it is about: "Variable 2 name must be ...", or "Secret 1 variable name: PATH decides ...". */
const rowMessage = (label: string, error: string) => (/^[a-z]/.test(error) ? `${label} ${error}` : `${label}: ${error}`);

/** Replaces row `index` of `rows` with `patch` applied. */
const patched = <T,>(rows: T[], index: number, patch: Partial<T>): T[] => rows.map((row, i) => (i === index ? { ...row, ...patch } : row));

/** Every live secret of the org, all pages: the picker offers each. */
export async function allSecrets(org: string): Promise<Secret[]> {
  const all: Secret[] = [];
  let pageToken = '';
  do {
    const page = await secretsApi.listSecrets({ org, pageSize: 1000, pageToken });
    all.push(...(page.secrets ?? []));
    pageToken = page.nextPageToken ?? '';
  } while (pageToken);
  return all;
}

/**
 * The picked secrets a plain variable of the same name shadows: the server injects the plain
 * value and not the secret (DESIGN §5), so the form says so while it is being filled in.
 */
export function shadowedSecrets(env: { name?: string }[], picks: { secretName?: string; envName?: string }[], keyOf: (secretName: string) => string | undefined) {
  const plain = new Set(env.map((e) => e.name).filter(Boolean));
  return picks
    .filter((p) => p.secretName)
    .map((p) => ({ secretName: p.secretName!, envName: p.envName || keyOf(p.secretName!) || '' }))
    .filter((p) => p.envName !== '' && plain.has(p.envName));
}

/**
 * The two sections' state for a resource named `prefix` in the API ("job", "workspace"): the
 * rows, the org's secrets to pick from, what is sent, and the form fields the server's field
 * violations land on.
 */
export function useEnvSecrets(org: string, prefix: string, initial?: { env: EnvRow[]; secrets: SecretRow[] }) {
  const [env, setEnv] = useState<EnvRow[]>(initial && initial.env.length > 0 ? initial.env : [NO_ENV]);
  const [secretRows, setSecretRows] = useState<SecretRow[]>([...(initial?.secrets ?? []), NO_SECRET]);
  const [secrets, setSecrets] = useState<Secret[]>([]);
  const [loadError, setLoadError] = useState<unknown>();

  useEffect(() => {
    allSecrets(org).then(setSecrets, setLoadError);
  }, [org]);

  // What is sent: the rows that are filled in. The server names them by their place in what it
  // got (job.env[0] is the first filled-in variable), so each form row knows its path there.
  const sentEnv = env.map((row, i) => ({ row, i })).filter(({ row }) => row.name !== '' || row.value !== '');
  const sentSecrets = secretRows.map((row, i) => ({ row, i })).filter(({ row }) => row.secretName !== '');
  const envPath = (i: number) => `${prefix}.env[${sentEnv.findIndex((e) => e.i === i)}]`;
  const secretPath = (i: number) => `${prefix}.secrets[${sentSecrets.findIndex((e) => e.i === i)}]`;
  // The more precise paths first: a violation lands on the first field it belongs to.
  const fields: FormField[] = [
    ...sentEnv.map(({ i }) => ({ path: `${envPath(i)}.value`, id: `env-${i}-value`, label: `Variable ${i + 1} value` })),
    ...sentEnv.map(({ i }) => ({ path: envPath(i), id: `env-${i}-name`, label: `Variable ${i + 1}` })),
    { path: `${prefix}.env`, id: 'env-0-name', label: 'Variables' },
    ...sentSecrets.map(({ i }) => ({ path: `${secretPath(i)}.file_path`, id: `secret-${i}-path`, label: `Secret ${i + 1} file path` })),
    ...sentSecrets.map(({ i }) => ({ path: `${secretPath(i)}.env_name`, id: `secret-${i}-env`, label: `Secret ${i + 1} variable name` })),
    ...sentSecrets.map(({ i }) => ({ path: secretPath(i), id: `secret-${i}`, label: `Secret ${i + 1}` })),
    { path: `${prefix}.secrets`, id: 'secret-0', label: 'Secrets' },
  ];
  const sent = {
    env: sentEnv.map(({ row }) => row),
    secrets: sentSecrets.map(({ row }): SentSecret =>
      row.as === 'file' ? { secretName: row.secretName, envName: '', filePath: row.filePath } : { secretName: row.secretName, envName: row.envName.trim(), filePath: '' },
    ),
  };
  /** The form's own question: "as a file" with no path would be sent as a variable. */
  const checkFilePathsGiven = (v: FieldChecks) => {
    for (const { row, i } of sentSecrets) if (row.as === 'file' && row.filePath === '') v.add(`${secretPath(i)}.file_path`, 'is required: give the path of the file, or pick "as variable"');
  };
  return { env, setEnv, secretRows, setSecretRows, secrets, loadError, envPath, secretPath, fields, sent, checkFilePathsGiven };
}

export type EnvSecrets = ReturnType<typeof useEnvSecrets>;

/** The Environment variables and Secrets fieldsets of a form for a `noun` ("job", "workspace"). */
export function EnvSecretsSection({ state, errors, noun }: { state: EnvSecrets; errors: FormErrors; noun: string }) {
  const { env, setEnv, secretRows, setSecretRows, secrets, envPath } = state;
  const keyOf = (secretName: string) => secrets.find((s) => s.name === secretName)?.key;
  const shadowed = shadowedSecrets(
    env,
    secretRows.filter((row) => row.as === 'variable'),
    keyOf,
  );
  return (
    <>
      <fieldset>
        <legend>Environment variables</legend>
        <p className="hint">Plain variables are stored with the {noun} as typed. A plain variable with the same name as a picked secret wins over the secret.</p>
        {env.map((row, i) => {
          const error = errors.fields[envPath(i)];
          const valueError = errors.fields[`${envPath(i)}.value`];
          return (
            <div className="row" key={`env-${i}`} data-env-row={i}>
              <input
                id={`env-${i}-name`}
                aria-label={`Variable ${i + 1} name`}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? `env-${i}-error` : undefined}
                placeholder="NAME"
                value={row.name}
                onChange={(e) => setEnv(patched(env, i, { name: e.target.value }))}
                autoComplete="off"
              />
              <input
                id={`env-${i}-value`}
                aria-label={`Variable ${i + 1} value`}
                aria-invalid={valueError ? true : undefined}
                aria-describedby={valueError ? `env-${i}-value-error` : undefined}
                placeholder="value"
                value={row.value}
                onChange={(e) => setEnv(patched(env, i, { value: e.target.value }))}
                autoComplete="off"
              />
              <button type="button" className="small secondary" aria-label={`Remove variable ${i + 1}`} onClick={() => setEnv(env.filter((_, j) => j !== i))}>
                Remove
              </button>
              {error && (
                <p id={`env-${i}-error`} className="field-error">
                  {rowMessage(`Variable ${i + 1} name`, error)}
                </p>
              )}
              {valueError && (
                <p id={`env-${i}-value-error`} className="field-error">
                  {rowMessage(`Variable ${i + 1} value`, valueError)}
                </p>
              )}
            </div>
          );
        })}
        <button type="button" className="small secondary" onClick={() => setEnv([...env, NO_ENV])}>
          Add variable
        </button>
      </fieldset>

      <fieldset>
        <legend>Secrets</legend>
        <ErrorMessage error={state.loadError} />
        {secretRows.map((row, i) => (
          <SecretRowFields key={`secret-${i}`} state={state} errors={errors} index={i} />
        ))}
        <p className="hint">
          A file holds the value byte for byte (read-only, only the {noun}'s user can read it): for keys and credential files. Paths under {SECRETS_DIR} work on every backend; the local backend also
          takes the {noun}'s home directory.
        </p>
        <button type="button" className="small secondary" onClick={() => setSecretRows([...secretRows, NO_SECRET])}>
          Add secret
        </button>
        <div role="status" className="shadow-warnings">
          {shadowed.map((s) => (
            <p key={s.secretName} className="warning">
              The plain variable {s.envName} replaces secret {s.secretName}: the {noun} gets the plain value, and {s.secretName} is not injected. Remove one of them if that is not what you want.
            </p>
          ))}
        </div>
      </fieldset>
    </>
  );
}

/** One picked secret: which one, given as a variable (its name) or as a file (its path). */
function SecretRowFields({ state, errors, index: i }: { state: EnvSecrets; errors: FormErrors; index: number }) {
  const { secretRows, setSecretRows, secrets, secretPath } = state;
  const row = secretRows[i];
  const error = errors.fields[secretPath(i)];
  const envError = errors.fields[`${secretPath(i)}.env_name`];
  const pathError = errors.fields[`${secretPath(i)}.file_path`];
  const update = (patch: Partial<SecretRow>) => setSecretRows(secretRows.map((r, j) => (j === i ? withSecretPatch(r, patch) : r)));
  // Each secret at most once: one picked in another row is not offered here.
  const pickedElsewhere = new Set(secretRows.filter((_, j) => j !== i).map((r) => r.secretName));
  return (
    <div className="row" data-secret-row={i}>
      <select
        id={`secret-${i}`}
        aria-label={`Secret ${i + 1}`}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `secret-${i}-error` : undefined}
        value={row.secretName}
        onChange={(e) => update({ secretName: e.target.value })}
      >
        <option value="">Select a secret…</option>
        {secrets
          .filter((s) => !pickedElsewhere.has(s.name ?? ''))
          .map((s) => (
            <option key={s.uid} value={s.name}>
              {s.name} ({s.key})
            </option>
          ))}
      </select>
      <select className="as" aria-label={`Secret ${i + 1} given as`} value={row.as} onChange={(e) => update({ as: e.target.value === 'file' ? 'file' : 'variable' })}>
        <option value="variable">as variable</option>
        <option value="file">as a file at</option>
      </select>
      {row.as === 'variable' ? (
        <input
          id={`secret-${i}-env`}
          name={`secret-${i}-env`}
          aria-label={`Secret ${i + 1} variable name`}
          aria-invalid={envError ? true : undefined}
          aria-describedby={envError ? `secret-${i}-env-error` : undefined}
          placeholder="NAME (default: its key)"
          value={row.envName}
          onChange={(e) => update({ envName: e.target.value })}
          autoComplete="off"
        />
      ) : (
        <input
          id={`secret-${i}-path`}
          name={`secret-${i}-path`}
          aria-label={`Secret ${i + 1} file path`}
          aria-invalid={pathError ? true : undefined}
          aria-describedby={pathError ? `secret-${i}-path-error` : undefined}
          placeholder={suggestedFilePath('NAME')}
          value={row.filePath}
          onChange={(e) => update({ filePath: e.target.value })}
          autoComplete="off"
          spellCheck={false}
        />
      )}
      <button type="button" className="small secondary" aria-label={`Remove secret ${i + 1}`} onClick={() => setSecretRows(secretRows.filter((_, j) => j !== i))}>
        Remove
      </button>
      {error && (
        <p id={`secret-${i}-error`} className="field-error">
          {rowMessage(`Secret ${i + 1}`, error)}
        </p>
      )}
      {row.as === 'variable' && envError && (
        <p id={`secret-${i}-env-error`} className="field-error">
          {rowMessage(`Secret ${i + 1} variable name`, envError)}
        </p>
      )}
      {row.as === 'file' && pathError && (
        <p id={`secret-${i}-path-error`} className="field-error">
          {rowMessage(`Secret ${i + 1} file path`, pathError)}
        </p>
      )}
    </div>
  );
}
