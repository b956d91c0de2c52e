import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { secretsApi, type Secret } from '../api';
import { sealAndSend } from '../sealing';
import type { Claims } from '../session';
import { ErrorMessage, FieldError, FormButtons, formatTime } from '../ui';

/** What the Value column shows for every secret: values are never available to anyone. */
const MASKED_VALUE = '••••••';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Panel = { kind: 'create' } | { kind: 'edit'; secret: Secret } | { kind: 'delete'; secret: Secret } | undefined;

export function SecretsPage({ claims }: { claims: Claims }) {
  const isAdmin = claims.role === 'admin';
  const [secrets, setSecrets] = useState<Secret[]>([]);
  const [showDeleted, setShowDeleted] = useState(false);
  const [loadError, setLoadError] = useState<unknown>();
  const [panel, setPanel] = useState<Panel>();
  const [notice, setNotice] = useState('');

  const load = useCallback(async () => {
    try {
      const all: Secret[] = [];
      let pageToken = '';
      do {
        const page = await secretsApi.listSecrets({ org: claims.org, showDeleted, pageSize: 1000, pageToken });
        all.push(...(page.secrets ?? []));
        pageToken = page.nextPageToken ?? '';
      } while (pageToken);
      setSecrets(all);
      setLoadError(undefined);
    } catch (err) {
      setLoadError(err);
    }
  }, [claims.org, showDeleted]);
  useEffect(() => void load(), [load]);

  // The notice comes with the reloaded table, so the two never disagree.
  const done = async (message: string) => {
    setPanel(undefined);
    await load();
    setNotice(message);
  };

  return (
    <section>
      <header className="page-header">
        <h1>Secrets</h1>
        {isAdmin && (
          <button type="button" onClick={() => (setPanel({ kind: 'create' }), setNotice(''))}>
            New secret
          </button>
        )}
      </header>
      <p className="hint">
        Org <strong>{claims.org}</strong>. Values are sealed in this browser with the org public key and can never be read back.
      </p>
      {notice && (
        <div className="notice" role="status">
          {notice}
        </div>
      )}
      {panel?.kind === 'create' && <CreateSecretForm org={claims.org} onDone={done} onCancel={() => setPanel(undefined)} />}
      {panel?.kind === 'edit' && <EditSecretForm org={claims.org} secret={panel.secret} onDone={done} onCancel={() => setPanel(undefined)} />}
      {panel?.kind === 'delete' && <DeleteSecretConfirm org={claims.org} secret={panel.secret} onDone={done} onCancel={() => setPanel(undefined)} />}
      <label className="toggle">
        <input type="checkbox" name="show-deleted" checked={showDeleted} onChange={(e) => setShowDeleted(e.target.checked)} /> Show deleted
      </label>
      <ErrorMessage error={loadError} />
      <table className="secrets">
        <thead>
          <tr>
            <th>Name</th>
            <th>Key</th>
            <th>Value</th>
            <th>Description</th>
            <th>Last edited by</th>
            <th>Edited at</th>
            {isAdmin && <th aria-label="Actions" />}
          </tr>
        </thead>
        <tbody>
          {secrets.length === 0 && (
            <tr>
              <td colSpan={7} className="empty">
                No secrets yet.
              </td>
            </tr>
          )}
          {secrets.map((secret) => {
            const deleted = secret.state === 'STATE_DELETED';
            return (
              <tr key={secret.uid} data-secret={secret.name} className={deleted ? 'deleted' : ''}>
                <td>
                  {secret.name} {deleted && <span className="badge">deleted</span>}
                </td>
                <td>
                  <code>{secret.key}</code>
                </td>
                <td className="masked">{deleted ? '' : MASKED_VALUE}</td>
                <td>{secret.description}</td>
                <td>{deleted ? secret.deleteBy : secret.updateBy || secret.createBy}</td>
                <td>{formatTime(deleted ? secret.deleteTime : secret.updateTime)}</td>
                {isAdmin && (
                  <td className="actions">
                    {!deleted && (
                      <>
                        <button type="button" className="small" onClick={() => (setPanel({ kind: 'edit', secret }), setNotice(''))}>
                          Edit
                        </button>
                        <button type="button" className="small danger" onClick={() => (setPanel({ kind: 'delete', secret }), setNotice(''))}>
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
    </section>
  );
}

interface FormProps {
  org: string;
  onDone(message: string): Promise<void>;
  onCancel(): void;
}

/** Runs a submit, keeping what the user typed when it fails (the error shows in place). */
function useSubmit(action: () => Promise<string>, onDone: (message: string) => Promise<void>) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onDone(await action());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, submit };
}

function CreateSecretForm({ org, onDone, onCancel }: FormProps) {
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [description, setDescription] = useState('');
  const { error, busy, submit } = useSubmit(async () => {
    // KEY defaults to NAME when NAME is an environment variable name, as in vesslctl.
    const envKey = key.trim() || (ENV_NAME.test(name) ? name : '');
    const created = await sealAndSend(value, org, (sealed) => secretsApi.createSecret({ org, secret: { name, key: envKey, description }, value: sealed }));
    setValue('');
    return `Created secret ${created.name} (key ${created.key}).`;
  }, onDone);
  return (
    <form className="panel" onSubmit={submit} aria-label="New secret">
      <h2>New secret</h2>
      <ErrorMessage error={error} />
      <label>
        Name
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
        <FieldError error={error} field="secret.name" />
      </label>
      <label>
        Key <span className="hint">environment variable name; defaults to the name</span>
        <input name="key" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" />
        <FieldError error={error} field="secret.key" />
      </label>
      <label>
        Value <span className="hint">sealed in this browser; never shown again</span>
        <input name="value" type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="new-password" data-lpignore="true" data-1p-ignore="true" required />
        <FieldError error={error} field="value" />
      </label>
      <DescriptionField value={description} onChange={setDescription} error={error} optional />
      <FormButtons label="Create" busy={busy} onCancel={onCancel} />
    </form>
  );
}

function EditSecretForm({ org, secret, onDone, onCancel }: FormProps & { secret: Secret }) {
  const [key, setKey] = useState(secret.key ?? '');
  const [description, setDescription] = useState(secret.description ?? '');
  const [value, setValue] = useState('');
  const { error, busy, submit } = useSubmit(async () => {
    const paths = [key !== (secret.key ?? '') && 'key', description !== (secret.description ?? '') && 'description', value !== '' && 'value'].filter(
      (p): p is string => typeof p === 'string',
    );
    if (paths.length === 0) throw new Error('nothing to change: edit the key or the description, or enter a new value');
    const request = { org, secret: { name: secret.name, key, description }, updateMask: fieldMask(paths) };
    const updated = value !== '' ? await sealAndSend(value, org, (sealed) => secretsApi.updateSecret({ ...request, value: sealed })) : await secretsApi.updateSecret(request);
    setValue('');
    return `Updated secret ${updated.name}: ${paths.join(', ')} changed (value version ${updated.version ?? 1}).`;
  }, onDone);
  return (
    <form className="panel" onSubmit={submit} aria-label={`Edit ${secret.name}`}>
      <h2>Edit {secret.name}</h2>
      <ErrorMessage error={error} />
      <label>
        Key
        <input name="key" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" />
        <FieldError error={error} field="secret.key" />
      </label>
      <DescriptionField value={description} onChange={setDescription} error={error} />
      <label>
        New value <span className="hint">leave empty to keep the current value; a new value rotates it</span>
        <input name="value" type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="new-password" data-lpignore="true" data-1p-ignore="true" />
        <FieldError error={error} field="value" />
      </label>
      <FormButtons label="Save" busy={busy} onCancel={onCancel} />
    </form>
  );
}

function DeleteSecretConfirm({ org, secret, onDone, onCancel }: FormProps & { secret: Secret }) {
  const { error, busy, submit } = useSubmit(async () => {
    await secretsApi.deleteSecret({ org, name: secret.name });
    return `Deleted secret ${secret.name}: its value is destroyed; the name is free again.`;
  }, onDone);
  return (
    <form className="panel confirm" onSubmit={submit} aria-label={`Delete ${secret.name}`}>
      <h2>Delete {secret.name}?</h2>
      <p>Its value is destroyed at once and cannot be recovered. Jobs that reference it will fail to start. The metadata stays for audit.</p>
      <ErrorMessage error={error} />
      <FormButtons label={`Delete ${secret.name}`} busy={busy} onCancel={onCancel} danger />
    </form>
  );
}

function DescriptionField({ value, onChange, error, optional = false }: { value: string; onChange: (value: string) => void; error: unknown; optional?: boolean }) {
  return (
    <label>
      Description {optional && <span className="hint">optional</span>}
      <input name="description" value={value} onChange={(e) => onChange(e.target.value)} autoComplete="off" />
      <FieldError error={error} field="secret.description" />
    </label>
  );
}

/** proto3 JSON writes a FieldMask as one comma-separated string, not as the list ts-proto types it as. */
function fieldMask(paths: string[]): string[] {
  return paths.join(',') as unknown as string[];
}
