import { useCallback, useEffect, useState } from 'react';
import { checkDescription, checkNewSecretFields, checkSecretKey } from '../../../services/secret-store/rules.js';
import { secretsApi, type Secret } from '../api';
import { Dialog } from '../dialog';
import { ErrorSummary, Field, FieldChecks, FormButtons, formErrorsOf, NO_ERRORS, useCheckedSubmit, type FormErrors, type FormField } from '../forms';
import type { Identity } from '../identity';
import { sealAndSend } from '../sealing';
import { Cell, ErrorMessage, RelativeTime, usePageTitle, EmptyRow, LoadMore } from '../ui';
import { checkValue, EMPTY_VALUE, isEmptyValue, valueBytes, ValueField, type ValueInput } from '../ValueField';

/** What the Value column shows for every secret: values are never available to anyone. */
const MASKED_VALUE = '••••••';
/** Why a value cannot be an environment variable (DESIGN §4): it is kept, for use as a file. */
const NOT_A_VARIABLE: Record<string, string> = {
  ENV_VAR_FIT_NUL_BYTE: 'holds a NUL byte, which no environment variable can carry',
  ENV_VAR_FIT_NOT_UTF8: 'is not UTF-8 text, so it cannot be an environment variable',
};
/** Secrets per page: the list grows a page at a time (Load more). */
const PAGE_SIZE = 50;

type Panel = { kind: 'create' } | { kind: 'edit'; secret: Secret } | { kind: 'delete'; secret: Secret } | undefined;

const matches = (secret: Secret, query: string) =>
  [secret.name, secret.key, secret.description].some((text) => (text ?? '').toLowerCase().includes(query.toLowerCase()));

export function SecretsPage({ identity }: { identity: Identity }) {
  usePageTitle('Secrets');
  const { org, canManageSecrets } = identity;
  const [secrets, setSecrets] = useState<Secret[]>([]);
  const [nextPage, setNextPage] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [showDeleted, setShowDeleted] = useState(false);
  const [query, setQuery] = useState('');
  const [loadError, setLoadError] = useState<unknown>();
  const [panel, setPanel] = useState<Panel>();
  const [notice, setNotice] = useState('');

  /** Loads the first `pages` pages again (after a change, as many as were shown), or appends the next one. */
  const load = useCallback(
    async (from: { pages: number } | { after: string }) => {
      try {
        const rows: Secret[] = [];
        let pageToken = 'after' in from ? from.after : '';
        let pages = 'pages' in from ? from.pages : 1;
        do {
          const page = await secretsApi.listSecrets({ org, showDeleted, pageSize: PAGE_SIZE, pageToken });
          rows.push(...(page.secrets ?? []));
          pageToken = page.nextPageToken ?? '';
        } while (pageToken && --pages > 0);
        setSecrets((shown) => ('after' in from ? [...shown, ...rows] : rows));
        setNextPage(pageToken);
        setLoadError(undefined);
      } catch (err) {
        setLoadError(err);
      } finally {
        setLoaded(true);
      }
    },
    [org, showDeleted],
  );
  useEffect(() => void load({ pages: 1 }), [load]);

  // The notice comes with the reloaded table, so the two never disagree; the dialog closes
  // in the same render, so focus returns to a trigger that is still there (or to the heading).
  const done = async (message: string) => {
    await load({ pages: Math.max(1, Math.ceil(secrets.length / PAGE_SIZE)) });
    setPanel(undefined);
    setNotice(message);
  };
  const open = (next: Panel) => {
    setNotice('');
    setPanel(next);
  };
  const close = () => setPanel(undefined);
  const shown = query ? secrets.filter((s) => matches(s, query)) : secrets;

  return (
    <section>
      <header className="page-header">
        <h1 tabIndex={-1}>Secrets</h1>
        {canManageSecrets && (
          <button type="button" onClick={() => open({ kind: 'create' })}>
            New secret
          </button>
        )}
      </header>
      <p className="hint">
        Org <strong>{org}</strong>. Values are sealed in this browser with the org public key and can never be read back.
      </p>
      <div className="notice" role="status">
        {notice}
      </div>
      {panel?.kind === 'create' && <CreateSecretDialog org={org} onDone={done} onCancel={close} />}
      {panel?.kind === 'edit' && <EditSecretDialog org={org} secret={panel.secret} onDone={done} onCancel={close} />}
      {panel?.kind === 'delete' && <DeleteSecretDialog org={org} secret={panel.secret} onDone={done} onCancel={close} />}
      <div className="list-tools">
        <div className="search">
          <label htmlFor="secret-search">Search</label>
          <input id="secret-search" type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="name, key or description" autoComplete="off" />
        </div>
        <label className="toggle">
          <input type="checkbox" name="show-deleted" checked={showDeleted} onChange={(e) => setShowDeleted(e.target.checked)} /> Show deleted
        </label>
      </div>
      <ErrorMessage error={loadError} />
      <table className="secrets cards">
        <caption className="visually-hidden">Secrets of org {org}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
            <th scope="col">Version</th>
            <th scope="col">Description</th>
            <th scope="col">Last rotated</th>
            <th scope="col">Last edited</th>
            {canManageSecrets && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {loaded && shown.length === 0 && <EmptyRow columns={canManageSecrets ? 8 : 7}>{secrets.length === 0 ? 'No secrets yet.' : `No loaded secret matches “${query}”.`}</EmptyRow>}
          {shown.map((secret) => {
            const deleted = secret.state === 'STATE_DELETED';
            return (
              <tr key={secret.uid} data-secret={secret.name} className={deleted ? 'deleted' : ''}>
                <Cell label="Name" className="name">
                  {secret.name} {deleted && <span className="badge">deleted</span>}
                </Cell>
                <Cell label="Key">
                  <code>{secret.key}</code>
                </Cell>
                <Cell label="Value" className="masked">
                  {deleted ? '' : <span aria-label="hidden value">{MASKED_VALUE}</span>}
                  {!deleted && NOT_A_VARIABLE[secret.envVarFit ?? ''] && (
                    <span className="badge" title={NOT_A_VARIABLE[secret.envVarFit ?? '']}>
                      file only
                    </span>
                  )}
                </Cell>
                <Cell label="Version">{secret.version ?? 1}</Cell>
                <Cell label="Description" className="description">
                  {secret.description}
                </Cell>
                <Cell label="Last rotated">{!deleted && <RelativeTime time={secret.valueUpdateTime} />}</Cell>
                <Cell label="Last edited">
                  {deleted ? secret.deleteBy : secret.updateBy || secret.createBy}, <RelativeTime time={deleted ? secret.deleteTime : secret.updateTime} />
                </Cell>
                {canManageSecrets && (
                  <td className="actions">
                    {!deleted && (
                      <>
                        <button type="button" className="small" aria-label={`Edit ${secret.name}`} onClick={() => open({ kind: 'edit', secret })}>
                          Edit
                        </button>
                        <button type="button" className="small danger" aria-label={`Delete ${secret.name}`} onClick={() => open({ kind: 'delete', secret })}>
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {nextPage && (
        <LoadMore noun="secrets" onClick={() => void load({ after: nextPage })}>
          {query && <span className="hint"> Search covers the {secrets.length} secrets loaded so far.</span>}
        </LoadMore>
      )}
    </section>
  );
}

interface FormProps {
  org: string;
  onDone(message: string): Promise<void>;
  onCancel(): void;
}

/**
 * Runs a submit: the browser's check first (the server's rules), then the call. What the user
 * typed stays when it fails, and the errors land at their fields.
 */
function useSubmit(fields: FormField[], inputs: readonly unknown[], check: () => FormErrors, action: () => Promise<string>, onDone: (message: string) => Promise<void>) {
  return useCheckedSubmit(check, inputs, action, onDone, (err) => formErrorsOf(err, fields, { status: 'ALREADY_EXISTS', path: 'secret.name' }));
}

const SECRET_FIELDS: FormField[] = [
  { path: 'secret.name', id: 'secret-name', label: 'Name' },
  { path: 'secret.key', id: 'secret-key', label: 'Key' },
  { path: 'value', id: 'secret-value', label: 'Value' },
  { path: 'secret.description', id: 'secret-description', label: 'Description' },
];
const EDIT_FIELDS: FormField[] = SECRET_FIELDS.filter((f) => f.path !== 'secret.name').map((f) => (f.path === 'value' ? { ...f, label: 'New value' } : f));

function CreateSecretDialog({ org, onDone, onCancel }: FormProps) {
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [value, setValue] = useState<ValueInput>(EMPTY_VALUE);
  const [description, setDescription] = useState('');
  const { errors, failures, busy, submit } = useSubmit(
    SECRET_FIELDS,
    [name, key, value, description],
    () => {
      const v = new FieldChecks();
      checkNewSecretFields(v, { name, key, description }, '');
      checkValue(v, value, true);
      return v.errors;
    },
    async () => {
      // KEY defaults to NAME when NAME is an environment variable name, as in vesslctl.
      const fields = checkNewSecretFields(new FieldChecks(), { name, key, description }, '');
      const created = await sealAndSend(valueBytes(value), org, (sealed) => secretsApi.createSecret({ org, secret: fields, value: sealed }));
      setValue(EMPTY_VALUE);
      return `Created secret ${created.name} (key ${created.key}).`;
    },
    onDone,
  );
  return (
    <Dialog title="New secret" onClose={onCancel}>
      <form onSubmit={submit} aria-label="New secret" noValidate>
        <ErrorSummary errors={errors} fields={SECRET_FIELDS} failures={failures} />
        <Field id="secret-name" label="Name" hint="letters, digits, “.”, “_” and “-”; unique in the org" error={errors.fields['secret.name']}>
          {(aria) => <input {...aria} name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}
        </Field>
        <Field id="secret-key" label="Key" hint="the environment variable a job gets it as; defaults to the name" error={errors.fields['secret.key']}>
          {(aria) => <input {...aria} name="key" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" />}
        </Field>
        <ValueField id="secret-value" label="Value" hint="any text (line breaks become \n; use Upload file to keep a file's bytes exactly, CRLF included) or a file; hidden on screen, but not from a screen reader while in the field; sealed in this browser and never shown again" value={value} onChange={setValue} error={errors.fields.value} />
        <DescriptionField value={description} onChange={setDescription} error={errors.fields['secret.description']} optional />
        <FormButtons label="Create" busy={busy} onCancel={onCancel} />
      </form>
    </Dialog>
  );
}

function EditSecretDialog({ org, secret, onDone, onCancel }: FormProps & { secret: Secret }) {
  const [key, setKey] = useState(secret.key ?? '');
  const [description, setDescription] = useState(secret.description ?? '');
  const [value, setValue] = useState<ValueInput>(EMPTY_VALUE);
  const changed = () =>
    [key !== (secret.key ?? '') && 'key', description !== (secret.description ?? '') && 'description', !isEmptyValue(value) && 'value'].filter((p): p is string => typeof p === 'string');
  const { errors, failures, busy, submit } = useSubmit(
    EDIT_FIELDS,
    [key, description, value],
    () => {
      const paths = changed();
      if (paths.length === 0) return { fields: {}, general: 'Nothing changed: edit the key or the description, or enter a new value.' };
      const v = new FieldChecks();
      if (paths.includes('key')) checkSecretKey(v, key, 'secret.key');
      checkDescription(v, description, 'secret.description');
      checkValue(v, value, false);
      return v.errors;
    },
    async () => {
      const paths = changed();
      const request = { org, secret: { name: secret.name, key, description }, updateMask: fieldMask(paths) };
      const updated = paths.includes('value')
        ? await sealAndSend(valueBytes(value), org, (sealed) => secretsApi.updateSecret({ ...request, value: sealed }))
        : await secretsApi.updateSecret(request);
      setValue(EMPTY_VALUE);
      return `Updated secret ${updated.name}: ${paths.join(', ')} changed (value version ${updated.version ?? 1}).`;
    },
    onDone,
  );
  return (
    <Dialog title={`Edit ${secret.name}`} onClose={onCancel}>
      <form onSubmit={submit} aria-label={`Edit ${secret.name}`} noValidate>
        <ErrorSummary errors={errors} fields={EDIT_FIELDS} failures={failures} />
        <Field id="secret-key" label="Key" hint="the environment variable a job gets it as" error={errors.fields['secret.key']}>
          {(aria) => <input {...aria} name="key" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" />}
        </Field>
        <DescriptionField value={description} onChange={setDescription} error={errors.fields['secret.description']} />
        <ValueField
          id="secret-value"
          label="New value"
          hint={`leave empty to keep version ${secret.version ?? 1}; a new value rotates it (byte for byte, sealed in this browser)`}
          value={value}
          onChange={setValue}
          error={errors.fields.value}
        />
        <FormButtons label="Save" busy={busy} onCancel={onCancel} />
      </form>
    </Dialog>
  );
}

function DeleteSecretDialog({ org, secret, onDone, onCancel }: FormProps & { secret: Secret }) {
  const { errors, failures, busy, submit } = useSubmit(
    [],
    [],
    () => NO_ERRORS,
    async () => {
      await secretsApi.deleteSecret({ org, name: secret.name });
      return `Deleted secret ${secret.name}: its value is destroyed; the name is free again.`;
    },
    onDone,
  );
  return (
    <Dialog title={`Delete ${secret.name}?`} onClose={onCancel} danger>
      <form onSubmit={submit} aria-label={`Delete ${secret.name}`}>
        <p>Its value is destroyed at once and cannot be recovered. Jobs that reference it will fail to start. The metadata stays for audit.</p>
        <ErrorSummary errors={errors} fields={[]} failures={failures} />
        <FormButtons label={`Delete ${secret.name}`} busy={busy} onCancel={onCancel} danger focusCancel />
      </form>
    </Dialog>
  );
}

function DescriptionField({ value, onChange, error, optional = false }: { value: string; onChange: (value: string) => void; error?: string; optional?: boolean }) {
  return (
    <Field id="secret-description" label="Description" hint={optional ? 'optional, at most 1024 characters' : 'at most 1024 characters'} error={error}>
      {(aria) => <input {...aria} name="description" value={value} onChange={(e) => onChange(e.target.value)} autoComplete="off" />}
    </Field>
  );
}

/** proto3 JSON writes a FieldMask as one comma-separated string, not as the list ts-proto types it as. */
function fieldMask(paths: string[]): string[] {
  return paths.join(',') as unknown as string[];
}
