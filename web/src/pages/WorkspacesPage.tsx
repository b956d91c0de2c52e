import { useCallback, useEffect, useState } from 'react';
import { workspacesApi, type Workspace } from '../api';
import type { Identity } from '../identity';
import { PAGE_SIZE, usePagedList } from '../paging';
import { Cell, ErrorMessage, navigate, RelativeTime, StateBadge, usePageTitle, EmptyRow, LoadMore } from '../ui';

/** The New workspace form's route. A workspace may be named "new"; no name starts with "-". */
export const NEW_WORKSPACE_ROUTE = '/workspaces/-/new';
export const workspaceRoute = (name: string) => `/workspaces/${encodeURIComponent(name)}`;

/** What the list says once it is back from a deletion (in memory only, shown once). */
let deletedNotice: string | undefined;
export function setDeletedNotice(name: string): void {
  deletedNotice = `Deleted workspace ${name}.`;
}

/** Whose workspaces the server lists: an admin gets the org's, anyone else their own. */
export const isAdmin = (identity: Identity) => identity.role === 'admin';

export function WorkspacesPage({ identity }: { identity: Identity }) {
  usePageTitle('Workspaces');
  const { org } = identity;
  const [notice] = useState(() => deletedNotice);
  useEffect(() => {
    deletedNotice = undefined;
  }, []);
  const fetchPage = useCallback(
    async (pageToken: string) => {
      const page = await workspacesApi.listWorkspaces({ org, pageSize: PAGE_SIZE, pageToken });
      return { items: page.workspaces ?? [], nextPageToken: page.nextPageToken ?? '' };
    },
    [org],
  );
  const { items: workspaces, nextPage, loaded, error, loadMore } = usePagedList<Workspace>(fetchPage);
  const whose = isAdmin(identity) ? `Every workspace in org ${org} (you are an admin).` : `Your workspaces in org ${org}: each member sees only their own.`;
  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>Workspaces</h1>
        <button type="button" onClick={() => navigate(NEW_WORKSPACE_ROUTE)}>
          New workspace
        </button>
      </header>
      <p className="hint" data-testid="whose">
        {whose} Workspaces are long-lived environments with the org's secrets; open a terminal in yours with vesslctl.
      </p>
      <p className="notice" role="status">
        {notice}
      </p>
      <ErrorMessage error={error} />
      <table className="workspaces cards">
        <caption className="visually-hidden">{whose}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Owner</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {loaded && !error && workspaces.length === 0 && <EmptyRow columns={4}>No workspaces yet.</EmptyRow>}
          {workspaces.map((workspace) => (
            <tr key={workspace.id} data-workspace={workspace.name}>
              <Cell label="Name" className="name">
                <a href={`#${workspaceRoute(workspace.name ?? '')}`}>{workspace.name}</a>
              </Cell>
              <Cell label="State">
                <StateBadge state={workspace.state} />
              </Cell>
              <Cell label="Owner">{workspace.createBy}</Cell>
              <Cell label="Created">
                <RelativeTime time={workspace.createTime} />
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
      {nextPage && <LoadMore noun="workspaces" onClick={loadMore} />}
    </section>
  );
}
