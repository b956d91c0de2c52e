import { useCallback, useEffect, useState } from 'react';
import { jobsApi, type Job } from '../api';
import { ConfirmButtons, Dialog } from '../dialog';
import type { Identity } from '../identity';
import { allSecrets } from '../env-secrets';
import { ErrorMessage, exactTime, navigate, plainError, RelativeTime, StateBadge, stateLabel, usePageTitle } from '../ui';
import { setCloneSource } from './JobCreatePage';

const POLL_MS = 1000;
const isActive = (state: string | undefined) => state === 'STATE_PENDING' || state === 'STATE_RUNNING';

type Attempt = NonNullable<Job['attempts']>[number];

/** Log bytes arrive base64-encoded (proto3 JSON bytes); secret values in them are already masked by the server. */
function decodeLog(chunks: { data?: string }[]): string {
  const decoder = new TextDecoder();
  return chunks.map((c) => decoder.decode(Uint8Array.from(atob(c.data ?? ''), (ch) => ch.charCodeAt(0)), { stream: true })).join('') + decoder.decode();
}

/**
 * What became of each secret the job asked for in one attempt: injected (with its version), or
 * replaced by the job's plain variable of the same name (the server does not inject it). Read
 * from the job as the server returns it, so it is the same after a reload.
 */
function secretsOfAttempt(job: Job, attempt: Attempt, keyOf: (name: string) => string | undefined) {
  const injected = attempt.secrets ?? [];
  const plain = new Set((job.env ?? []).map((e) => e.name));
  const overridden = (job.secrets ?? [])
    .filter((ref) => !injected.some((s) => s.secretName === ref.secretName))
    .map((ref) => ({ secretName: ref.secretName ?? '', envName: ref.envName || keyOf(ref.secretName ?? '') || '', asFile: Boolean(ref.filePath) }))
    // A plain variable replaces only a secret given as a variable; a file is never shadowed.
    .map((ref) => ({ ...ref, byPlain: !ref.asFile && plain.has(ref.envName) }));
  return { injected, overridden };
}

type Confirm = 'restart' | 'terminate' | undefined;

export function JobDetailPage({ identity, id }: { identity: Identity; id: string }) {
  const { org } = identity;
  const [job, setJob] = useState<Job>();
  usePageTitle(job?.name ? `Job ${job.name}` : `Job ${id}`);
  const [log, setLog] = useState('');
  // 0: the latest attempt's log; otherwise the attempt picked.
  const [logAttempt, setLogAttempt] = useState(0);
  const [error, setError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [confirm, setConfirm] = useState<Confirm>();
  // The org's live secrets by name (their keys), to tell what a reference lands on and which are gone.
  const [keys, setKeys] = useState<Map<string, string>>();
  // Bumped by Restart/Terminate: polling starts over and follows the new attempt until it ends.
  const [polling, setPolling] = useState(0);

  useEffect(() => {
    allSecrets(org).then((list) => setKeys(new Map(list.map((s) => [s.name ?? '', s.key ?? '']))), () => undefined);
  }, [org]);

  const load = useCallback(async () => {
    try {
      const [current, chunks] = await Promise.all([jobsApi.getJob({ org, id }), jobsApi.streamJobLogs({ org, id, attempt: logAttempt })]);
      setJob(current);
      setLog(decodeLog(chunks));
      setError(undefined);
      return current;
    } catch (err) {
      setError(err);
      return undefined;
    }
  }, [org, id, logAttempt]);

  // Poll while the latest attempt runs, so state and log follow it.
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      const current = await load();
      if (!stopped && current && isActive(current.state)) timer = setTimeout(tick, POLL_MS);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [load, polling]);

  const act = async (action: () => Promise<unknown>) => {
    setActionError(undefined);
    try {
      await action();
      setLogAttempt(0);
      setPolling((n) => n + 1);
    } catch (err) {
      setActionError(err);
    } finally {
      setConfirm(undefined);
    }
  };

  if (!job) {
    return (
      <section>
        <h1 tabIndex={-1}>Job {id}</h1>
        <ErrorMessage error={error} />
      </section>
    );
  }
  const attempts = [...(job.attempts ?? [])].reverse();
  const latest = (job.attempts ?? []).at(-1);
  const running = isActive(job.state);
  // A referenced secret that is no longer live makes a restart fail (NOT_FOUND), injected or not.
  const gone = keys ? (job.secrets ?? []).map((s) => s.secretName ?? '').filter((name) => !keys.has(name)) : [];
  const rotated = (latest?.secrets ?? []).filter((s) => s.stale && Number(s.currentVersion ?? 0) > 0);
  const clone = () => {
    setCloneSource(job, gone);
    navigate('/jobs/new');
  };
  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>
          {job.name} <StateBadge state={job.state} />
        </h1>
        <div className="buttons">
          <button type="button" onClick={() => setConfirm('restart')}>
            Restart
          </button>
          {running && (
            <button type="button" className="danger" onClick={() => setConfirm('terminate')}>
              Terminate
            </button>
          )}
          <button type="button" className="secondary" onClick={clone}>
            Clone job
          </button>
        </div>
      </header>
      {confirm === 'restart' && (
        <Dialog title={`Restart ${job.name}?`} onClose={() => setConfirm(undefined)}>
          <p>
            {running ? 'The running attempt is stopped, and a' : 'A'} new attempt {(job.attempts?.length ?? 0) + 1} starts with the current value of each secret.
          </p>
          <ConfirmButtons label="Restart job" onConfirm={() => act(() => jobsApi.restartJob({ org, id }))} onCancel={() => setConfirm(undefined)} />
        </Dialog>
      )}
      {confirm === 'terminate' && (
        <Dialog title={`Terminate ${job.name}?`} onClose={() => setConfirm(undefined)} danger>
          <p>Attempt {latest?.number} is stopped now and the job ends as cancelled. Its log so far is kept.</p>
          <ConfirmButtons label="Terminate job" danger onConfirm={() => act(() => jobsApi.terminateJob({ org, id }))} onCancel={() => setConfirm(undefined)} />
        </Dialog>
      )}
      {actionError ? (
        <div className="error" role="alert">
          {plainError(actionError)}
          {gone.length > 0 && ' A secret this job uses was deleted: clone the job and pick another secret.'}
        </div>
      ) : (
        <ErrorMessage error={error} />
      )}
      {gone.length > 0 && (
        <div className="warning" role="status">
          {gone.length === 1 ? `Secret ${gone[0]} was` : `Secrets ${gone.join(', ')} were`} deleted, so a restart would fail.{' '}
          <button type="button" className="link-inline" onClick={clone}>
            Clone job
          </button>{' '}
          to run it with another secret.
        </div>
      )}
      {running && gone.length === 0 && rotated.length > 0 && (
        <div className="warning stale-note" role="status">
          The running attempt got a secret value that has since been rotated ({rotated.map((s) => s.secretName).join(', ')}). Restart to run with the current value.
        </div>
      )}
      <dl className="facts">
        <dt>ID</dt>
        <dd>{job.id}</dd>
        <dt>Image</dt>
        <dd>{job.image}</dd>
        <dt>Command</dt>
        <dd>
          <code>{job.command}</code>
        </dd>
        <dt>Environment</dt>
        <dd>{(job.env ?? []).map((e) => e.name).join(', ') || 'none'}</dd>
        <dt>Secrets</dt>
        <dd>{(job.secrets ?? []).map((s) => (s.filePath ? `file ${s.filePath} ← ${s.secretName}` : s.envName ? `${s.envName}=${s.secretName}` : s.secretName)).join(', ') || 'none'}</dd>
        <dt>Created</dt>
        <dd>
          <RelativeTime time={job.createTime} /> by {job.createBy} ({job.backend})
        </dd>
      </dl>
      <h2>Attempts</h2>
      <div className="table-box" role="region" aria-label="Attempts" tabIndex={0}>
        <table className="attempts">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">State</th>
              <th scope="col">Started</th>
              <th scope="col">Ended</th>
              <th scope="col">Exit</th>
              <th scope="col">Secrets</th>
            </tr>
          </thead>
          <tbody>
            {attempts.map((a) => {
              const { injected, overridden } = secretsOfAttempt(job, a, (name) => keys?.get(name));
              return (
                <tr key={a.number} data-attempt={a.number}>
                  <td>{a.number}</td>
                  <td>
                    {stateLabel(a.state)}
                    {a.message ? ` (${a.message})` : ''}
                  </td>
                  <td>
                    <RelativeTime time={a.startTime} />
                  </td>
                  <td>
                    <RelativeTime time={a.endTime} />
                  </td>
                  <td>{a.exitCode ?? ''}</td>
                  <td>
                    {injected.map((s) => (
                      <div key={s.secretUid} className={s.stale ? 'stale' : ''} data-injected={s.secretName} data-file={s.filePath || undefined}>
                        {s.filePath ? (
                          <>
                            file <code>{s.filePath}</code> ← {s.secretName} v{s.version}
                          </>
                        ) : (
                          <>
                            {s.secretName} as <code>{s.envName}</code>, version {s.version}
                          </>
                        )}
                        {s.stale && <span className="badge stale">stale: {Number(s.currentVersion ?? 0) === 0 ? 'deleted since' : `now version ${s.currentVersion}`}</span>}
                      </div>
                    ))}
                    {overridden.map((s) => (
                      <div key={s.secretName} data-overridden={s.secretName}>
                        {s.secretName} not injected
                        {s.byPlain ? (
                          <>
                            : plain variable <code>{s.envName}</code> replaced it
                          </>
                        ) : null}
                      </div>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <div className="log-header">
        <h2>Log</h2>
        {attempts.length > 1 && (
          <label className="inline-field">
            Attempt{' '}
            <select name="log-attempt" value={logAttempt} onChange={(e) => setLogAttempt(Number(e.target.value))}>
              <option value={0}>latest ({latest?.number})</option>
              {attempts.map((a) => (
                <option key={a.number} value={a.number}>
                  {a.number}, started {exactTime(a.startTime)}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <p className="hint">
        Before the log is stored, the server replaces the values of the secrets this job got with *** where they appear as written, line by line for multi-line values,
        or base64-encoded. It cannot recognise a value the job changes (reversed, hashed, split or re-encoded otherwise), nor values shorter than 4 bytes: do not print secrets.
      </p>
      <pre className="log" data-testid="job-log" tabIndex={0} aria-label="Job log">
        {log || '(no output yet)'}
      </pre>
    </section>
  );
}
