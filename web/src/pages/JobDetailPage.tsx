import { useCallback, useEffect, useState } from 'react';
import { jobsApi, type Job } from '../api';
import type { Claims } from '../session';
import { ErrorMessage, formatTime } from '../ui';
import { takeCreateWarnings } from './JobCreatePage';
import { stateLabel } from './JobsPage';

const POLL_MS = 1000;
const isActive = (state: string | undefined) => state === 'STATE_PENDING' || state === 'STATE_RUNNING';

/** Log bytes arrive base64-encoded (proto3 JSON bytes); secret values in them are already masked by the server. */
function decodeLog(chunks: { data?: string }[]): string {
  const decoder = new TextDecoder();
  return chunks.map((c) => decoder.decode(Uint8Array.from(atob(c.data ?? ''), (ch) => ch.charCodeAt(0)), { stream: true })).join('') + decoder.decode();
}

export function JobDetailPage({ claims, id }: { claims: Claims; id: string }) {
  const [job, setJob] = useState<Job>();
  const [log, setLog] = useState('');
  const [error, setError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [warnings, setWarnings] = useState<string[]>(takeCreateWarnings);
  // Bumped by Restart/Terminate: polling starts over and follows the new attempt until it ends.
  const [polling, setPolling] = useState(0);

  const load = useCallback(async () => {
    try {
      const [current, chunks] = await Promise.all([jobsApi.getJob({ org: claims.org, id }), jobsApi.streamJobLogs({ org: claims.org, id })]);
      setJob(current);
      setLog(decodeLog(chunks));
      setError(undefined);
      return current;
    } catch (err) {
      setError(err);
      return undefined;
    }
  }, [claims.org, id]);

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

  const act = async (action: () => Promise<{ warnings?: string[] } | unknown>) => {
    setActionError(undefined);
    try {
      const result = (await action()) as { warnings?: string[] };
      setWarnings(result?.warnings ?? []);
      setPolling((n) => n + 1);
    } catch (err) {
      setActionError(err);
    }
  };

  if (!job) {
    return (
      <section>
        <h1>Job {id}</h1>
        <ErrorMessage error={error} />
      </section>
    );
  }
  const attempts = [...(job.attempts ?? [])].reverse();
  const anyStale = (job.attempts ?? []).at(-1)?.secrets?.some((s) => s.stale) ?? false;
  return (
    <section>
      <header className="page-header">
        <h1>
          {job.name} <span className={`state state-${stateLabel(job.state)}`}>{stateLabel(job.state)}</span>
        </h1>
        <div className="buttons">
          <button type="button" onClick={() => act(() => jobsApi.restartJob({ org: claims.org, id }))}>
            Restart
          </button>
          {isActive(job.state) && (
            <button type="button" className="danger" onClick={() => act(() => jobsApi.terminateJob({ org: claims.org, id }))}>
              Terminate
            </button>
          )}
        </div>
      </header>
      <ErrorMessage error={actionError ?? error} />
      {warnings.map((w) => (
        <div key={w} className="warning" role="status">
          {w}
        </div>
      ))}
      {anyStale && (
        <div className="warning stale-note" role="status">
          The latest attempt got a secret value that has since been rotated or deleted. Restart to run with the current value.
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
        <dd>{(job.secrets ?? []).map((s) => (s.envName ? `${s.envName}=${s.secretName}` : s.secretName)).join(', ') || 'none'}</dd>
        <dt>Created</dt>
        <dd>
          {formatTime(job.createTime)} by {job.createBy} ({job.backend})
        </dd>
      </dl>
      <h2>Attempts</h2>
      <table className="attempts">
        <thead>
          <tr>
            <th>#</th>
            <th>State</th>
            <th>Started</th>
            <th>Ended</th>
            <th>Exit</th>
            <th>Secret versions</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a) => (
            <tr key={a.number} data-attempt={a.number}>
              <td>{a.number}</td>
              <td>
                {stateLabel(a.state)}
                {a.message ? ` (${a.message})` : ''}
              </td>
              <td>{formatTime(a.startTime)}</td>
              <td>{formatTime(a.endTime)}</td>
              <td>{a.exitCode ?? ''}</td>
              <td>
                {(a.secrets ?? []).map((s) => (
                  <div key={s.secretUid} className={s.stale ? 'stale' : ''} data-injected={s.secretName}>
                    {s.secretName} as <code>{s.envName}</code>, version {s.version}
                    {s.stale && <span className="badge stale">stale: {Number(s.currentVersion ?? 0) === 0 ? 'deleted since' : `now version ${s.currentVersion}`}</span>}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Log</h2>
      <p className="hint">Secret values are masked as *** by the server before the log is stored.</p>
      <pre className="log" data-testid="job-log">
        {log || '(no output yet)'}
      </pre>
    </section>
  );
}
