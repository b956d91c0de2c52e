import { useEffect, useState } from 'react';
import { jobsApi, type Job } from '../api';
import { checkJobInput } from '../../../services/job-launcher/rules.js';
import { ANY_FILE_ROOT } from '../../../services/runtime/secret-file-paths.js';
import { EnvSecretsSection, secretRowOf } from '../env-secrets';
import { ErrorSummary, FormButtons } from '../forms';
import type { Identity } from '../identity';
import { RunFields, useRunForm } from '../run-form';
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
  const [clone] = useState(cloneValues);
  // Taken once the form shows it: the next New job starts empty.
  useEffect(() => {
    cloneSource = undefined;
  }, []);
  const form = useRunForm({
    org: identity.org,
    kind: 'job',
    initial: clone,
    // The job launcher's own rules (services/job-launcher/rules.ts).
    check: (v, input) => checkJobInput(v, input, ANY_FILE_ROOT),
    send: async (job) => `/jobs/${(await jobsApi.createJob({ org: identity.org, job })).job?.id ?? ''}`,
  });
  const { errors, fields, failures, section } = form;

  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>New job</h1>
      </header>
      <form className="panel wide" onSubmit={form.submit} aria-label="New job" noValidate>
        <ErrorSummary errors={errors} fields={fields} failures={failures} />
        <RunFields form={form} hints={{ command: 'run with /bin/sh -c' }} />

        <EnvSecretsSection state={section} errors={errors} noun="job" />

        <FormButtons label="Create job" busy={form.busy} onCancel={() => navigate('/jobs')} />
      </form>
    </section>
  );
}
