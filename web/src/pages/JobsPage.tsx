import { useCallback, useEffect, useState } from 'react';
import { jobsApi, type Job } from '../api';
import type { Identity } from '../identity';
import { Cell, ErrorMessage, navigate, RelativeTime, usePageTitle } from '../ui';

/** Jobs per page: the list grows a page at a time (Load more). */
const PAGE_SIZE = 50;

export function stateLabel(state: string | undefined): string {
  return (state ?? 'STATE_UNSPECIFIED').replace(/^STATE_/, '').toLowerCase();
}

export function JobsPage({ identity }: { identity: Identity }) {
  usePageTitle('Jobs');
  const { org } = identity;
  const [jobs, setJobs] = useState<Job[]>([]);
  const [nextPage, setNextPage] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>();
  const load = useCallback(
    async (pageToken: string) => {
      try {
        const page = await jobsApi.listJobs({ org, pageSize: PAGE_SIZE, pageToken });
        setJobs((shown) => (pageToken ? [...shown, ...(page.jobs ?? [])] : (page.jobs ?? [])));
        setNextPage(page.nextPageToken ?? '');
        setError(undefined);
      } catch (err) {
        setError(err);
      } finally {
        setLoaded(true);
      }
    },
    [org],
  );
  useEffect(() => void load(''), [load]);
  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>Jobs</h1>
        <button type="button" onClick={() => navigate('/jobs/new')}>
          New job
        </button>
      </header>
      <ErrorMessage error={error} />
      <table className="jobs cards">
        <caption className="visually-hidden">Jobs of org {org}</caption>
        <thead>
          <tr>
            <th scope="col">ID</th>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Attempts</th>
            <th scope="col">Created by</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {loaded && jobs.length === 0 && (
            <tr>
              <td colSpan={6} className="empty">
                No jobs yet.
              </td>
            </tr>
          )}
          {jobs.map((job) => (
            <tr key={job.id} data-job={job.id}>
              <Cell label="ID">
                <a href={`#/jobs/${job.id}`}>{job.id}</a>
              </Cell>
              <Cell label="Name" className="name">
                {job.name}
              </Cell>
              <Cell label="State">
                <span className={`state state-${stateLabel(job.state)}`}>{stateLabel(job.state)}</span>
              </Cell>
              <Cell label="Attempts">{job.attempts?.length ?? 0}</Cell>
              <Cell label="Created by">{job.createBy}</Cell>
              <Cell label="Created">
                <RelativeTime time={job.createTime} />
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
      {nextPage && (
        <div className="load-more">
          <button type="button" className="secondary" onClick={() => void load(nextPage)}>
            Load more jobs
          </button>
        </div>
      )}
    </section>
  );
}
