import { useState } from 'react';
import { runInputOf, type JobInput, type RunMessage } from '../../services/job-launcher/rules.js';
import { type EnvRow, type SecretRow, useEnvSecrets } from './env-secrets';
import { Field, FieldChecks, formErrorsOf, useCheckedSubmit, type FormErrors, type FormField } from './forms';
import { navigate } from './ui';


export interface RunFormOptions {
  org: string;
  /** The request's field ("job", "workspace"): the paths of its violations and the inputs' ids. */
  kind: 'job' | 'workspace';
  /** The form's first values (a cloned job). */
  initial?: { name: string; image: string; command: string; env: EnvRow[]; secrets: SecretRow[] };
  /**
   * The browser's check: the launcher's own rules for this kind, on what would be sent. Which
   * roots a file may go under depends on the backend, which only the server knows: that one
   * comes back from it, at the same field.
   */
  check(v: FieldChecks, input: JobInput): void;
  /** Sends it; answers the route to go to. */
  send(sent: RunMessage): Promise<string>;
  /** A failure of this status is about this field (a name already taken). */
  conflict?: { status: string; path: string };
}

/** The state and submission of a New job / New workspace form: name, image, command, variables and secrets. */
export function useRunForm(opts: RunFormOptions) {
  const { kind, initial } = opts;
  const [name, setName] = useState(initial?.name ?? '');
  const [image, setImage] = useState(initial?.image ?? 'python:3.12');
  const [command, setCommand] = useState(initial?.command ?? '');
  const section = useEnvSecrets(opts.org, kind, initial);

  // The more precise paths first: a violation lands on the first field it belongs to.
  const fields: FormField[] = [
    { path: `${kind}.name`, id: `${kind}-name`, label: 'Name' },
    { path: `${kind}.image`, id: `${kind}-image`, label: 'Image' },
    { path: `${kind}.command`, id: `${kind}-command`, label: 'Command' },
    ...section.fields,
  ];

  // What is sent, as the API names it: the same object the browser checks and the server gets.
  const sent: RunMessage = { name, image, command, ...section.sent };

  const check = (): FormErrors => {
    const v = new FieldChecks();
    opts.check(v, runInputOf(sent));
    section.checkFilePathsGiven(v);
    return v.placed(fields);
  };

  const { errors, failures, busy, submit } = useCheckedSubmit(
    check,
    [name, image, command, section.env, section.secretRows],
    () => opts.send(sent),
    navigate,
    (err) => formErrorsOf(err, fields, opts.conflict),
  );

  return { kind, name, setName, image, setImage, command, setCommand, section, busy, fields, errors, failures, submit };
}

/** The name, image and command inputs of a run form, with their hints. */
export function RunFields({ form, hints }: { form: ReturnType<typeof useRunForm>; hints: { name?: string; command: string } }) {
  const { kind, errors } = form;
  return (
    <>
      <Field id={`${kind}-name`} label="Name" hint={hints.name} error={errors.fields[`${kind}.name`]}>
        {(aria) => <input {...aria} name="name" value={form.name} onChange={(e) => form.setName(e.target.value)} autoComplete="off" />}
      </Field>
      <Field id={`${kind}-image`} label="Image" error={errors.fields[`${kind}.image`]}>
        {(aria) => <input {...aria} name="image" value={form.image} onChange={(e) => form.setImage(e.target.value)} autoComplete="off" />}
      </Field>
      <Field id={`${kind}-command`} label="Command" hint={hints.command} error={errors.fields[`${kind}.command`]}>
        {(aria) => <textarea {...aria} name="command" rows={3} value={form.command} onChange={(e) => form.setCommand(e.target.value)} spellCheck={false} />}
      </Field>
    </>
  );
}
