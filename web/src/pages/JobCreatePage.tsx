import { useEffect, useState, type FormEvent } from 'react';
import { jobsApi, type Job } from '../api';
import { checkJobInput } from '../../../services/job-launcher/rules.js';
import { ANY_FILE_ROOT } from '../../../services/runtime/secret-file-paths.js';
import { EnvSecretsSection, secretRowOf, useEnvSecrets } from '../env-secrets';
import { ErrorSummary, Field, FieldChecks, FormButtons, formErrorsOf, hasErrors, useFormErrors, type FormErrors, type FormField } from '../forms';
import type { Identity } from '../identity';
import { navigate, usePageTitle } from '../ui';

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
  const secrets = (job.secrets ?? []).filter((s) => !without.includes(s.secretName ?? '')).map(secretRowOf);
  return { name: job.name ?? '', image: job.image ?? '', command: job.command ?? '', env, secrets };
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
  const section = useEnvSecrets(org, 'job', clone);
  const [busy, setBusy] = useState(false);

  // The more precise paths first: a violation lands on the first field it belongs to.
  const fields: FormField[] = [
    { path: 'job.name', id: 'job-name', label: 'Name' },
    { path: 'job.image', id: 'job-image', label: 'Image' },
    { path: 'job.command', id: 'job-command', label: 'Command' },
    ...section.fields,
  ];

  // What is sent, as the API names it: the same object the browser checks and the server gets.
  const job = { name, image, command, ...section.sent };

  /**
   * The browser's check: the job launcher's own rules (services/job-launcher/rules.ts), on what
   * would be sent. Only "under which roots may a file go" depends on the backend, which the
   * browser does not know: that one comes back from the server, at the same field.
   */
  const check = (): FormErrors => {
    const v = new FieldChecks();
    checkJobInput(v, { ...job, secretRefs: job.secrets }, ANY_FILE_ROOT);
    section.checkFilePathsGiven(v);
    return v.placed(fields);
  };

  const { errors, failures, fail } = useFormErrors(check, [name, image, command, section.env, section.secretRows]);

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

        <EnvSecretsSection state={section} errors={errors} noun="job" />

        <FormButtons label="Create job" busy={busy} onCancel={() => navigate('/jobs')} />
      </form>
    </section>
  );
}
