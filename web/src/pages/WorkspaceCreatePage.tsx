import { workspacesApi } from '../api';
import { checkWorkspaceInput } from '../../../services/job-launcher/workspaces/rules.js';
import { ANY_FILE_ROOT } from '../../../services/runtime/secret-file-paths.js';
import { EnvSecretsSection } from '../env-secrets';
import { ErrorSummary, FormButtons } from '../forms';
import type { Identity } from '../identity';
import { RunFields, useRunForm } from '../run-form';
import { navigate, usePageTitle } from '../ui';
import { setCreateWarnings } from './WorkspaceDetailPage';
import { workspaceRoute } from './WorkspacesPage';

export function WorkspaceCreatePage({ identity }: { identity: Identity }) {
  usePageTitle('New workspace');
  const form = useRunForm({
    org: identity.org,
    kind: 'workspace',
    // The job launcher's own workspace rules (services/job-launcher/workspaces/rules.ts).
    check: (v, input) => checkWorkspaceInput(v, input, ANY_FILE_ROOT),
    send: async (workspace) => {
      const created = await workspacesApi.createWorkspace({ org: identity.org, workspace });
      setCreateWarnings(created.warnings ?? []);
      return workspaceRoute(created.workspace?.name ?? workspace.name);
    },
    // A name taken by another workspace of the org is about the Name field.
    conflict: { status: 'ALREADY_EXISTS', path: 'workspace.name' },
  });
  const { errors, fields, failures, section } = form;

  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>New workspace</h1>
      </header>
      <form className="panel wide" onSubmit={form.submit} aria-label="New workspace" noValidate>
        <ErrorSummary errors={errors} fields={fields} failures={failures} />
        <RunFields form={form} hints={{ name: 'unique in the org; you connect with it', command: 'optional: its main process, run with /bin/sh -c; left empty, the workspace idles until stopped' }} />

        <EnvSecretsSection state={section} errors={errors} noun="workspace" />
        <p className="hint">A secret given as a file is rewritten in the running workspace when it is rotated, and removed when it is deleted. A variable keeps the value the workspace started with: stop and start it to refresh.</p>

        <FormButtons label="Create workspace" busy={form.busy} onCancel={() => navigate('/workspaces')} />
      </form>
    </section>
  );
}
