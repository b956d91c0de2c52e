import { useEffect, useState, type FormEvent } from 'react';
import { jobsApi, secretsApi, type Job, type Secret } from '../api';
import { checkKey, checkName, checkSecretKey } from '../../../services/secret-store/rules.js';
import { ErrorSummary, Field, FieldChecks, FormButtons, formErrorsOf, hasErrors, useFormErrors, type FormErrors, type FormField } from '../forms';
import type { Identity } from '../identity';
import { ErrorMessage, navigate, usePageTitle } from '../ui';

interface EnvRow {
  name: string;
  value: string;
}

interface SecretRow {
  secretName: string;
  envName: string;
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
  const secrets = (job.secrets ?? []).filter((s) => !without.includes(s.secretName ?? '')).map((s) => ({ secretName: s.secretName ?? '', envName: s.envName ?? '' }));
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
  const [secretRows, setSecretRows] = useState<SecretRow[]>([...(clone?.secrets ?? []), { secretName: '', envName: '' }]);
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
  const fields: FormField[] = [
    { path: 'job.name', id: 'job-name', label: 'Name' },
    { path: 'job.image', id: 'job-image', label: 'Image' },
    { path: 'job.command', id: 'job-command', label: 'Command' },
    ...sentEnv.map(({ i }) => ({ path: envPath(i), id: `env-${i}-name`, label: `Variable ${i + 1}` })),
    { path: 'job.env', id: 'env-0-name', label: 'Variables' },
    ...sentSecrets.map(({ i }) => ({ path: secretPath(i), id: `secret-${i}`, label: `Secret ${i + 1}` })),
    { path: 'job.secrets', id: 'secret-0', label: 'Secrets' },
  ];
  const keyOf = (secretName: string) => secrets.find((s) => s.name === secretName)?.key;
  const shadowed = shadowedSecrets(env, secretRows, keyOf);

  /**
   * The browser's check, by the rules the job launcher applies and shares with secrets (it
   * imports them from rules.ts): a job's name is named like a secret, a plain variable's name and
   * a secret's "as" name are environment variable names, the latter not one that changes how the
   * job starts. The rest (image, command) is checked by the server.
   */
  const check = (): FormErrors => {
    const v = new FieldChecks();
    checkName(v, name, 'job.name');
    const seen = new Set<string>();
    for (const { row, i } of sentEnv) {
      checkKey(v, row.name, envPath(i));
      if (seen.has(row.name)) v.add(envPath(i), `${row.name} is given twice`);
      seen.add(row.name);
    }
    for (const { row, i } of sentSecrets) if (row.envName.trim() !== '') checkSecretKey(v, row.envName.trim(), secretPath(i));
    return v.errors;
  };

  const { errors, failures, fail } = useFormErrors(check, [name, env, secretRows]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = check();
    if (hasErrors(found)) return fail(found);
    setBusy(true);
    try {
      const job = {
        name,
        image,
        command,
        env: sentEnv.map(({ row }) => row),
        secrets: sentSecrets.map(({ row }) => ({ secretName: row.secretName, envName: row.envName.trim() })),
      };
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
                <input aria-label={`Variable ${i + 1} value`} placeholder="value" value={row.value} onChange={(e) => setEnv(patched(env, i, { value: e.target.value }))} autoComplete="off" />
                <button type="button" className="small secondary" aria-label={`Remove variable ${i + 1}`} onClick={() => setEnv(env.filter((_, j) => j !== i))}>
                  Remove
                </button>
                {error && (
                  <p id={`env-${i}-error`} className="field-error">
                    {rowMessage(`Variable ${i + 1} name`, error)}
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
                  onChange={(e) => setSecretRows(patched(secretRows, i, { secretName: e.target.value }))}
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
                <input
                  aria-label={`Secret ${i + 1} variable name`}
                  placeholder="as (default: its key)"
                  value={row.envName}
                  onChange={(e) => setSecretRows(patched(secretRows, i, { envName: e.target.value }))}
                  autoComplete="off"
                />
                <button type="button" className="small secondary" aria-label={`Remove secret ${i + 1}`} onClick={() => setSecretRows(secretRows.filter((_, j) => j !== i))}>
                  Remove
                </button>
                {error && (
                  <p id={`secret-${i}-error`} className="field-error">
                    {rowMessage(`Secret ${i + 1} variable name`, error)}
                  </p>
                )}
              </div>
            );
          })}
          <button type="button" className="small secondary" onClick={() => setSecretRows([...secretRows, { secretName: '', envName: '' }])}>
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
