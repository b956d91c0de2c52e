import { useCallback } from 'react';
import { jobsApi, type Job } from '../api';
import type { Identity } from '../identity';
import { PAGE_SIZE, usePagedList } from '../paging';
import { Cell, ErrorMessage, navigate, RelativeTime, StateBadge, usePageTitle, EmptyRow, LoadMore } from '../ui';

export function JobsPage({ identity }: { identity: Identity }) {
  usePageTitle('Jobs');
  const { org } = identity;
  const fetchPage = useCallback(async (pageToken: string) => {
    const page = await jobsApi.listJobs({ org, pageSize: PAGE_SIZE, pageToken });
    return { items: page.jobs ?? [], nextPageToken: page.nextPageToken ?? '' };
  }, [org]);
  const { items: jobs, nextPage, loaded, error, loadMore } = usePagedList<Job>(fetchPage);
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
          {loaded && jobs.length === 0 && <EmptyRow columns={6}>No jobs yet.</EmptyRow>}
          {jobs.map((job) => (
            <tr key={job.id} data-job={job.id}>
              <Cell label="ID">
                <a href={`#/jobs/${job.id}`}>{job.id}</a>
              </Cell>
              <Cell label="Name" className="name">
                {job.name}
              </Cell>
              <Cell label="State">
                <StateBadge state={job.state} />
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
      {nextPage && <LoadMore noun="jobs" onClick={loadMore} />}
    </section>
  );
}
