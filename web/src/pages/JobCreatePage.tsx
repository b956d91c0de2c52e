import { useEffect, useState, type FormEvent } from 'react';
import { jobsApi, secretsApi, type Secret } from '../api';
import type { Claims } from '../session';
import { ErrorMessage, FieldError, FormButtons, navigate } from '../ui';

interface EnvRow {
  name: string;
  value: string;
}

interface SecretRow {
  secretName: string;
  envName: string;
}

/** Replaces row `index` of `rows` with `patch` applied. */
const patched = <T,>(rows: T[], index: number, patch: Partial<T>): T[] => rows.map((row, i) => (i === index ? { ...row, ...patch } : row));

/** The warnings of the job just created, handed to its detail page (in memory: nothing is stored). */
let createWarnings: string[] = [];
export function takeCreateWarnings(): string[] {
  const warnings = createWarnings;
  createWarnings = [];
  return warnings;
}

export function JobCreatePage({ claims }: { claims: Claims }) {
  const [name, setName] = useState('');
  const [image, setImage] = useState('python:3.12');
  const [command, setCommand] = useState('');
  const [env, setEnv] = useState<EnvRow[]>([{ name: '', value: '' }]);
  const [secretRows, setSecretRows] = useState<SecretRow[]>([{ secretName: '', envName: '' }]);
  const [secrets, setSecrets] = useState<Secret[]>([]);
  const [loadError, setLoadError] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    secretsApi.listSecrets({ org: claims.org, pageSize: 1000 }).then((page) => setSecrets(page.secrets ?? []), setLoadError);
  }, [claims.org]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // Empty rows are the form's spare lines, not variables.
      const job = {
        name,
        image,
        command,
        env: env.filter((e) => e.name !== '' || e.value !== ''),
        secrets: secretRows.filter((s) => s.secretName !== '').map((s) => ({ secretName: s.secretName, envName: s.envName.trim() })),
      };
      const created = await jobsApi.createJob({ org: claims.org, job });
      createWarnings = created.warnings ?? [];
      navigate(`/jobs/${created.job?.id ?? ''}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <header className="page-header">
        <h1>New job</h1>
      </header>
      <form className="panel wide" onSubmit={submit} aria-label="New job">
        <ErrorMessage error={error} />
        <label>
          Name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
          <FieldError error={error} field="job.name" />
        </label>
        <label>
          Image
          <input name="image" value={image} onChange={(e) => setImage(e.target.value)} autoComplete="off" />
          <FieldError error={error} field="job.image" />
        </label>
        <label>
          Command <span className="hint">run with /bin/sh -c</span>
          <textarea name="command" rows={3} value={command} onChange={(e) => setCommand(e.target.value)} spellCheck={false} />
          <FieldError error={error} field="job.command" />
        </label>

        <fieldset>
          <legend>Environment Variables</legend>
          <p className="hint">Plain variables are stored with the job as typed. A plain variable with the same name as a secret's wins over the secret.</p>
          {env.map((row, i) => (
            <div className="row" key={`env-${i}`} data-env-row={i}>
              <input aria-label={`Variable ${i + 1} name`} placeholder="NAME" value={row.name} onChange={(e) => setEnv(patched(env, i, { name: e.target.value }))} autoComplete="off" />
              <input aria-label={`Variable ${i + 1} value`} placeholder="value" value={row.value} onChange={(e) => setEnv(patched(env, i, { value: e.target.value }))} autoComplete="off" />
              <button type="button" className="small secondary" onClick={() => setEnv(env.filter((_, j) => j !== i))}>
                Remove
              </button>
              <FieldError error={error} field={`job.env[${i}]`} />
            </div>
          ))}
          <button type="button" className="small secondary" onClick={() => setEnv([...env, { name: '', value: '' }])}>
            Add variable
          </button>

          <h3>Secrets</h3>
          <ErrorMessage error={loadError} />
          {secretRows.map((row, i) => (
            <div className="row" key={`secret-${i}`} data-secret-row={i}>
              <select aria-label={`Secret ${i + 1}`} value={row.secretName} onChange={(e) => setSecretRows(patched(secretRows, i, { secretName: e.target.value }))}>
                <option value="">Select a secret…</option>
                {secrets.map((s) => (
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
              <button type="button" className="small secondary" onClick={() => setSecretRows(secretRows.filter((_, j) => j !== i))}>
                Remove
              </button>
              <FieldError error={error} field={`job.secrets[${i}]`} />
            </div>
          ))}
          <button type="button" className="small secondary" onClick={() => setSecretRows([...secretRows, { secretName: '', envName: '' }])}>
            Add secret
          </button>
        </fieldset>

        <FormButtons label="Create job" busy={busy} onCancel={() => navigate('/jobs')} />
      </form>
    </section>
  );
}
