import { useEffect, useState, type FormEvent } from 'react';
import { jobsApi, secretsApi, type Job, type Secret } from '../api';
import { checkJobInput } from '../../../services/job-launcher/rules.js';
import { ANY_FILE_ROOT, SECRETS_DIR } from '../../../services/runtime/secret-file-paths.js';
import { ErrorSummary, Field, FieldChecks, FormButtons, formErrorsOf, hasErrors, useFormErrors, type FormErrors, type FormField } from '../forms';
import type { Identity } from '../identity';
import { ErrorMessage, navigate, usePageTitle } from '../ui';

interface EnvRow {
  name: string;
  value: string;
}

/** A picked secret and where it lands: a variable (its key, or the name given) or a file at a path. */
interface SecretRow {
  secretName: string;
  as: 'variable' | 'file';
  envName: string;
  filePath: string;
}

const NO_SECRET: SecretRow = { secretName: '', as: 'variable', envName: '', filePath: '' };

/** Where a secret picked as a file goes unless the user says otherwise. */
export const suggestedFilePath = (secretName: string) => `${SECRETS_DIR}${secretName}`;

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

/** A job to start the form from ("Clone job"), without the secrets that are gone; in memory only. */
let cloneSource: { job: Job; without: string[] } | undefined;
export function setCloneSource(job: Job, without: string[]): void {
  cloneSource = { job, without };
}
/** The form's first values from the clone source (read, not cleared: React may call this twice). */
function cloneValues() {
  const source = cloneSource;
  if (!source) return undefined;
  const { job, without } = source;
  const env = (job.env ?? []).map((e) => ({ name: e.name ?? '', value: e.value ?? '' }));
  const secrets = (job.secrets ?? [])
    .filter((s) => !without.includes(s.secretName ?? ''))
    .map((s): SecretRow => ({ secretName: s.secretName ?? '', as: s.filePath ? 'file' : 'variable', envName: s.envName ?? '', filePath: s.filePath ?? '' }));
  return { name: job.name ?? '', image: job.image ?? '', command: job.command ?? '', env, secrets };
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

export function JobCreatePage({ identity }: { identity: Identity }) {
  usePageTitle('New job');
  const { org } = identity;
  const [clone] = useState(cloneValues);
  // Taken once the form shows it: the next New job starts empty.
  useEffect(() => {
    cloneSource = undefined;
  }, []);
  const [name, setName] = useState(clone?.name ?? '');
  const [image, setImage] = useState(clone?.image ?? 'python:3.12');
  const [command, setCommand] = useState(clone?.command ?? '');
  const [env, setEnv] = useState<EnvRow[]>(clone && clone.env.length > 0 ? clone.env : [{ name: '', value: '' }]);
  const [secretRows, setSecretRows] = useState<SecretRow[]>([...(clone?.secrets ?? []), NO_SECRET]);
  const [secrets, setSecrets] = useState<Secret[]>([]);
  const [loadError, setLoadError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    allSecrets(org).then(setSecrets, setLoadError);
  }, [org]);

  // What is sent: the rows that are filled in. The server names them by their place in what it
  // got (job.env[0] is the first filled-in variable), so each form row knows its path there.
  const sentEnv = env.map((row, i) => ({ row, i })).filter(({ row }) => row.name !== '' || row.value !== '');
  const sentSecrets = secretRows.map((row, i) => ({ row, i })).filter(({ row }) => row.secretName !== '');
  const envPath = (i: number) => `job.env[${sentEnv.findIndex((e) => e.i === i)}]`;
  const secretPath = (i: number) => `job.secrets[${sentSecrets.findIndex((e) => e.i === i)}]`;
  // The more precise paths first: a violation lands on the first field it belongs to.
  const fields: FormField[] = [
    { path: 'job.name', id: 'job-name', label: 'Name' },
    { path: 'job.image', id: 'job-image', label: 'Image' },
    { path: 'job.command', id: 'job-command', label: 'Command' },
    ...sentEnv.map(({ i }) => ({ path: `${envPath(i)}.value`, id: `env-${i}-value`, label: `Variable ${i + 1} value` })),
    ...sentEnv.map(({ i }) => ({ path: envPath(i), id: `env-${i}-name`, label: `Variable ${i + 1}` })),
    { path: 'job.env', id: 'env-0-name', label: 'Variables' },
    ...sentSecrets.map(({ i }) => ({ path: `${secretPath(i)}.file_path`, id: `secret-${i}-path`, label: `Secret ${i + 1} file path` })),
    ...sentSecrets.map(({ i }) => ({ path: `${secretPath(i)}.env_name`, id: `secret-${i}-env`, label: `Secret ${i + 1} variable name` })),
    ...sentSecrets.map(({ i }) => ({ path: secretPath(i), id: `secret-${i}`, label: `Secret ${i + 1}` })),
    { path: 'job.secrets', id: 'secret-0', label: 'Secrets' },
  ];
  const keyOf = (secretName: string) => secrets.find((s) => s.name === secretName)?.key;
  const shadowed = shadowedSecrets(
    env,
    secretRows.filter((row) => row.as === 'variable'),
    keyOf,
  );

  // What is sent, as the API names it: the same object the browser checks and the server gets.
  const job = {
    name,
    image,
    command,
    env: sentEnv.map(({ row }) => row),
    secrets: sentSecrets.map(({ row }) =>
      row.as === 'file' ? { secretName: row.secretName, envName: '', filePath: row.filePath } : { secretName: row.secretName, envName: row.envName.trim(), filePath: '' },
    ),
  };

  /**
   * The browser's check: the job launcher's own rules (services/job-launcher/rules.ts), on what
   * would be sent. Only "under which roots may a file go" depends on the backend, which the
   * browser does not know: that one comes back from the server, at the same field.
   */
  const check = (): FormErrors => {
    const v = new FieldChecks();
    checkJobInput(v, { ...job, secretRefs: job.secrets }, ANY_FILE_ROOT);
    // The form's own question: "as a file" with no path would be sent as a variable.
    for (const { row, i } of sentSecrets) if (row.as === 'file' && row.filePath === '') v.add(`${secretPath(i)}.file_path`, 'is required: give the path of the file, or pick "as variable"');
    return v.placed(fields);
  };

  const { errors, failures, fail } = useFormErrors(check, [name, image, command, env, secretRows]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = check();
    if (hasErrors(found)) return fail(found);
    setBusy(true);
    try {
      const created = await jobsApi.createJob({ org, job });
      navigate(`/jobs/${created.job?.id ?? ''}`);
    } catch (err) {
      fail(formErrorsOf(err, fields));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>New job</h1>
      </header>
      <form className="panel wide" onSubmit={submit} aria-label="New job" noValidate>
        <ErrorSummary errors={errors} fields={fields} failures={failures} />
        <Field id="job-name" label="Name" error={errors.fields['job.name']}>
          {(aria) => <input {...aria} name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}
        </Field>
        <Field id="job-image" label="Image" error={errors.fields['job.image']}>
          {(aria) => <input {...aria} name="image" value={image} onChange={(e) => setImage(e.target.value)} autoComplete="off" />}
        </Field>
        <Field id="job-command" label="Command" hint="run with /bin/sh -c" error={errors.fields['job.command']}>
          {(aria) => <textarea {...aria} name="command" rows={3} value={command} onChange={(e) => setCommand(e.target.value)} spellCheck={false} />}
        </Field>

        <fieldset>
          <legend>Environment variables</legend>
          <p className="hint">Plain variables are stored with the job as typed. A plain variable with the same name as a picked secret wins over the secret.</p>
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
          <button type="button" className="small secondary" onClick={() => setEnv([...env, { name: '', value: '' }])}>
            Add variable
          </button>
        </fieldset>

        <fieldset>
          <legend>Secrets</legend>
          <ErrorMessage error={loadError} />
          {secretRows.map((row, i) => {
            const error = errors.fields[secretPath(i)];
            const envError = errors.fields[`${secretPath(i)}.env_name`];
            const pathError = errors.fields[`${secretPath(i)}.file_path`];
            const update = (patch: Partial<SecretRow>) => setSecretRows(secretRows.map((r, j) => (j === i ? withSecretPatch(r, patch) : r)));
            // Each secret at most once: one picked in another row is not offered here.
            const pickedElsewhere = new Set(secretRows.filter((_, j) => j !== i).map((r) => r.secretName));
            return (
              <div className="row" key={`secret-${i}`} data-secret-row={i}>
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
          })}
          <p className="hint">A file holds the value byte for byte (read-only, only the job's user can read it): for keys and credential files. Paths under {SECRETS_DIR} work on every backend; the local backend also takes the job's home directory.</p>
          <button type="button" className="small secondary" onClick={() => setSecretRows([...secretRows, NO_SECRET])}>
            Add secret
          </button>
          <div role="status" className="shadow-warnings">
            {shadowed.map((s) => (
              <p key={s.secretName} className="warning">
                The plain variable {s.envName} replaces secret {s.secretName}: the job gets the plain value, and {s.secretName} is not injected. Remove one of them if that is not what you want.
              </p>
            ))}
          </div>
        </fieldset>

        <FormButtons label="Create job" busy={busy} onCancel={() => navigate('/jobs')} />
      </form>
    </section>
  );
}
