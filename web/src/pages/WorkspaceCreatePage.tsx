import { useState, type FormEvent } from 'react';
import { workspacesApi } from '../api';
import { checkWorkspaceInput } from '../../../services/job-launcher/workspaces/rules.js';
import { ANY_FILE_ROOT } from '../../../services/runtime/secret-file-paths.js';
import { EnvSecretsSection, useEnvSecrets } from '../env-secrets';
import { ErrorSummary, Field, FieldChecks, FormButtons, formErrorsOf, hasErrors, useFormErrors, type FormErrors, type FormField } from '../forms';
import type { Identity } from '../identity';
import { navigate, usePageTitle } from '../ui';
import { setCreateWarnings } from './WorkspaceDetailPage';
import { workspaceRoute } from './WorkspacesPage';

export function WorkspaceCreatePage({ identity }: { identity: Identity }) {
  usePageTitle('New workspace');
  const { org } = identity;
  const [name, setName] = useState('');
  const [image, setImage] = useState('python:3.12');
  const [command, setCommand] = useState('');
  const section = useEnvSecrets(org, 'workspace');
  const [busy, setBusy] = useState(false);

  // The more precise paths first: a violation lands on the first field it belongs to.
  const fields: FormField[] = [
    { path: 'workspace.name', id: 'workspace-name', label: 'Name' },
    { path: 'workspace.image', id: 'workspace-image', label: 'Image' },
    { path: 'workspace.command', id: 'workspace-command', label: 'Command' },
    ...section.fields,
  ];

  // What is sent, as the API names it: the same object the browser checks and the server gets.
  const workspace = { name, image, command, ...section.sent };

  /**
   * The browser's check: the job launcher's own workspace rules (services/job-launcher/workspaces/rules.ts),
   * on what would be sent. Which roots a file may go under depends on the backend, which only the
   * server knows: that one comes back from it, at the same field.
   */
  const check = (): FormErrors => {
    const v = new FieldChecks();
    checkWorkspaceInput(v, { ...workspace, secretRefs: workspace.secrets }, ANY_FILE_ROOT);
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
      const created = await workspacesApi.createWorkspace({ org, workspace });
      setCreateWarnings(created.warnings ?? []);
      navigate(workspaceRoute(created.workspace?.name ?? name));
    } catch (err) {
      // A name taken by another workspace of the org is about the Name field.
      fail(formErrorsOf(err, fields, { status: 'ALREADY_EXISTS', path: 'workspace.name' }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>New workspace</h1>
      </header>
      <form className="panel wide" onSubmit={submit} aria-label="New workspace" noValidate>
        <ErrorSummary errors={errors} fields={fields} failures={failures} />
        <Field id="workspace-name" label="Name" hint="unique in the org; you connect with it" error={errors.fields['workspace.name']}>
          {(aria) => <input {...aria} name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}
        </Field>
        <Field id="workspace-image" label="Image" error={errors.fields['workspace.image']}>
          {(aria) => <input {...aria} name="image" value={image} onChange={(e) => setImage(e.target.value)} autoComplete="off" />}
        </Field>
        <Field id="workspace-command" label="Command" hint="optional: its main process, run with /bin/sh -c; left empty, the workspace idles until stopped" error={errors.fields['workspace.command']}>
          {(aria) => <textarea {...aria} name="command" rows={3} value={command} onChange={(e) => setCommand(e.target.value)} spellCheck={false} />}
        </Field>

        <EnvSecretsSection state={section} errors={errors} noun="workspace" />
        <p className="hint">A secret given as a file is rewritten in the running workspace when it is rotated, and removed when it is deleted. A variable keeps the value the workspace started with: stop and start it to refresh.</p>

        <FormButtons label="Create workspace" busy={busy} onCancel={() => navigate('/workspaces')} />
      </form>
    </section>
  );
}
