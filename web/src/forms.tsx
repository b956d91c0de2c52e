// Form fields and their errors: each message once, at its field (aria-invalid, aria-describedby),
// and a summary on top that links to the fields. The browser checks with the server's own rules
// (services/secret-store/rules.ts and services/job-launcher/rules.ts report into a FieldChecks); what only the server can know (a
// taken name) comes back as its field violation or status and lands at the same field.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { ViolationSink } from '../../services/secret-store/rules.js';
import { ApiError } from './api';
import { plainError } from './ui';

/** A form's fields as the API names them ("secret.name"), with the element id and label of each. */
export interface FormField {
  path: string;
  id: string;
  label: string;
}

/** A message per field (by API path), and what was not about one field. */
export interface FormErrors {
  fields: Record<string, string>;
  general?: string;
}

export const NO_ERRORS: FormErrors = { fields: {} };
export const hasErrors = (errors: FormErrors) => Object.keys(errors.fields).length > 0 || errors.general !== undefined;

/** Collects rule violations by API field path, the first message of each field. */
export class FieldChecks implements ViolationSink {
  readonly fields: Record<string, string> = {};
  add(field: string, description: string): void {
    this.fields[field] ??= description;
  }
  check(ok: boolean, field: string, description: string): void {
    if (!ok) this.add(field, description);
  }
  get errors(): FormErrors {
    return { fields: { ...this.fields } };
  }
  /** The violations at the form's fields (a rule's "job.env[0].name" lands on the field "job.env[0]"). */
  placed(fields: FormField[]): FormErrors {
    return placeViolations(
      Object.entries(this.fields).map(([field, description]) => ({ field, description })),
      fields,
    );
  }
}

/** The form field a violation of `path` belongs to ("value.sealed_box" → "value"). */
const fieldOf = (fields: FormField[], path: string) =>
  fields.find((f) => path === f.path || path.startsWith(`${f.path}.`) || path.startsWith(`${f.path}[`));

/**
 * A failed call as form errors: field violations at their fields; a status that concerns one
 * field (`conflicts`: ALREADY_EXISTS is about the name) at that field; anything else in words.
 */
export function formErrorsOf(error: unknown, fields: FormField[], conflicts?: { status: string; path: string }): FormErrors {
  if (!(error instanceof ApiError)) return { fields: {}, general: plainError(error) };
  if (conflicts && error.status === conflicts.status) return { fields: { [conflicts.path]: plainError(error).replace(/\.$/, '') } };
  if (error.fieldViolations.length === 0) return { fields: {}, general: plainError(error) };
  return placeViolations(error.fieldViolations, fields);
}

/** Each violation at the first form field it belongs to (the first message of each), the rest in words. */
function placeViolations(violations: { field: string; description: string }[], fields: FormField[]): FormErrors {
  const result: FormErrors = { fields: {} };
  const elsewhere: string[] = [];
  for (const v of violations) {
    const field = fieldOf(fields, v.field);
    if (field) result.fields[field.path] ??= v.description;
    else elsewhere.push(v.description);
  }
  if (elsewhere.length > 0) result.general = `${elsewhere.join('; ')}.`;
  return result;
}

export interface FieldAria {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** A labelled field: its hint and its error are outside the label and tied to the input. */
export function Field({ id, label, hint, error, children }: { id: string; label: string; hint?: ReactNode; error?: string; children: (aria: FieldAria) => ReactNode }) {
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : '', error ? errorId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p id={hintId} className="hint">
          {hint}
        </p>
      )}
      {children({ id, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy })}
      {error && (
        <p id={errorId} className="field-error">
          {/* A message that starts lower-case continues the label: "Name must start with ..." */}
          {/^[a-z]/.test(error) ? `${label} ${error}` : error}
        </p>
      )}
    </div>
  );
}

/**
 * A form's errors. Set by a failed submit (`fail`); from then on the browser's check runs again
 * as the user edits, so a corrected field's message goes away at once (the server's answer is
 * dropped then too: it was about the values before the edit). `failures` counts failed submits,
 * for ErrorSummary to take the focus on each.
 */
export function useFormErrors(check: () => FormErrors, inputs: readonly unknown[]) {
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [failures, setFailures] = useState(0);
  const live = useRef(false);
  useEffect(() => {
    if (live.current) setErrors(check());
    // Only the inputs matter: `check` is a new function on every render.
  }, inputs);
  return {
    errors,
    failures,
    fail(found: FormErrors) {
      live.current = true;
      setErrors(found);
      setFailures((n) => n + 1);
    },
    reset() {
      live.current = false;
      setErrors(NO_ERRORS);
    },
  };
}

/**
 * A form's submit: the browser's check first, then `action`; its result goes to `done` once the
 * errors are cleared. What the user typed stays when either fails, and `errorsOf` places the
 * failure at its fields. `busy` while it runs.
 */
export function useCheckedSubmit<T>(
  check: () => FormErrors,
  inputs: readonly unknown[],
  action: () => Promise<T>,
  done: (result: T) => void | Promise<void>,
  errorsOf: (err: unknown) => FormErrors,
) {
  const { errors, failures, fail, reset } = useFormErrors(check, inputs);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = check();
    if (hasErrors(found)) return fail(found);
    setBusy(true);
    try {
      const result = await action();
      reset();
      await done(result);
    } catch (err) {
      fail(errorsOf(err));
    } finally {
      setBusy(false);
    }
  };
  return { errors, failures, busy, submit };
}

/** On top of a form that failed: which fields to fix (links that focus them), and any other reason. */
export function ErrorSummary({ errors, fields, failures }: { errors: FormErrors; fields: FormField[]; failures: number }) {
  const ref = useRef<HTMLDivElement>(null);
  // Focus moves here after each failed submit (not while the user corrects the fields), so the
  // keyboard and screen reader start from the summary.
  useEffect(() => {
    if (failures > 0) ref.current?.focus();
  }, [failures]);
  if (!hasErrors(errors)) return null;
  const broken = fields.filter((f) => errors.fields[f.path] !== undefined);
  return (
    <div ref={ref} className="error error-summary" role="alert" tabIndex={-1}>
      {broken.length > 0 && (
        <>
          <p className="error-title">{broken.length === 1 ? 'Please correct this field:' : `Please correct these ${broken.length} fields:`}</p>
          <ul>
            {broken.map((f) => (
              <li key={f.path}>
                <a
                  href={`#${f.id}`}
                  onClick={(event) => {
                    // Not a route: the hash is the app's router, so focus the field instead.
                    event.preventDefault();
                    document.getElementById(f.id)?.focus();
                  }}
                >
                  {f.label}
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
      {errors.general && <p>{errors.general}</p>}
    </div>
  );
}

/** A form's submit button (disabled while busy) and its Cancel. */
export function FormButtons({ label, busy, onCancel, danger = false, focusCancel = false }: { label: string; busy: boolean; onCancel: () => void; danger?: boolean; focusCancel?: boolean }) {
  return (
    <div className="buttons">
      <button type="submit" className={danger ? 'danger' : undefined} disabled={busy}>
        {busy ? `${label}…` : label}
      </button>
      <button type="button" className="secondary" onClick={onCancel} data-autofocus={focusCancel ? true : undefined}>
        Cancel
      </button>
    </div>
  );
}
