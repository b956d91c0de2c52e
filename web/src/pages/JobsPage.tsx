import { useEffect, useState } from 'react';
import { jobsApi, type Job } from '../api';
import type { Claims } from '../session';
import { ErrorMessage, formatTime, navigate } from '../ui';

export function stateLabel(state: string | undefined): string {
  return (state ?? 'STATE_UNSPECIFIED').replace(/^STATE_/, '').toLowerCase();
}

export function JobsPage({ claims }: { claims: Claims }) {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    jobsApi.listJobs({ org: claims.org, pageSize: 100 }).then(
      (page) => (setJobs(page.jobs ?? []), setError(undefined)),
      setError,
    );
  }, [claims.org]);
  return (
    <section>
      <header className="page-header">
        <h1>Jobs</h1>
        <button type="button" onClick={() => navigate('/jobs/new')}>
          New job
        </button>
      </header>
      <ErrorMessage error={error} />
      <table className="jobs">
        <thead>
          <tr>
            <th>ID</th>
            <th>Name</th>
            <th>State</th>
            <th>Attempts</th>
            <th>Created by</th>
            <th>Created at</th>
          </tr>
        </thead>
        <tbody>
          {jobs.length === 0 && (
            <tr>
              <td colSpan={6} className="empty">
                No jobs yet.
              </td>
            </tr>
          )}
          {jobs.map((job) => (
            <tr key={job.id} data-job={job.id}>
              <td>
                <a href={`#/jobs/${job.id}`}>{job.id}</a>
              </td>
              <td>{job.name}</td>
              <td>
                <span className={`state state-${stateLabel(job.state)}`}>{stateLabel(job.state)}</span>
              </td>
              <td>{job.attempts?.length ?? 0}</td>
              <td>{job.createBy}</td>
              <td>{formatTime(job.createTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
