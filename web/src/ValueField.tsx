// A secret's value of any shape: typed or pasted text of many lines (a PEM key, a JSON key
// file), kept exactly as entered (newlines, a trailing newline), or a file's bytes as they are.
// Hidden by default (drawn as dots), shown on request; sealed as bytes by sealing.ts.
import { useState } from 'react';
import { MAX_VALUE_BYTES } from '../../services/runtime/sealed-value.js';
import { Field, type FieldChecks } from './forms';

export type ValueInput = { kind: 'text'; text: string } | { kind: 'file'; name: string; bytes: Uint8Array };

export const EMPTY_VALUE: ValueInput = { kind: 'text', text: '' };

/** The bytes that are sealed: text as UTF-8 (a textarea's line breaks are always \n), a file as read. */
export const valueBytes = (value: ValueInput): Uint8Array => (value.kind === 'text' ? new TextEncoder().encode(value.text) : value.bytes);

export const isEmptyValue = (value: ValueInput) => value.kind === 'text' && value.text === '';

/** DESIGN §4: non-empty, at most 64 KiB (the server's own limit, imported). */
export function checkValue(v: FieldChecks, value: ValueInput, required: boolean): void {
  const size = valueBytes(value).length;
  if (size === 0 && (required || value.kind === 'file')) v.add('value', value.kind === 'file' ? 'is an empty file; a value needs at least one byte' : 'is required');
  else if (size > MAX_VALUE_BYTES) v.add('value', `is ${size.toLocaleString('en')} bytes; at most ${MAX_VALUE_BYTES.toLocaleString('en')} (64 KiB) are allowed`);
}

export function ValueField({ id, label, hint, value, onChange, error }: { id: string; label: string; hint: string; value: ValueInput; onChange: (value: ValueInput) => void; error?: string }) {
  const [shown, setShown] = useState(false);
  const upload = async (file: File | undefined) => {
    if (file) onChange({ kind: 'file', name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) });
  };
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(aria) => (
        <div className="value-input">
          {value.kind === 'text' ? (
            <textarea
              {...aria}
              name="value"
              rows={4}
              className={shown ? 'value-text' : 'value-text concealed'}
              value={value.text}
              onChange={(e) => onChange({ kind: 'text', text: e.target.value })}
              autoComplete="off"
              autoCapitalize="off"
              autoCorrect="off"
              spellCheck={false}
              data-lpignore="true"
              data-1p-ignore="true"
            />
          ) : (
            <output {...aria} tabIndex={-1} className="value-file" data-value-file={value.name}>
              File <strong>{value.name}</strong>, {value.bytes.length.toLocaleString('en')} bytes, sent byte for byte
            </output>
          )}
          <div className="value-tools">
            {value.kind === 'text' ? (
              <button type="button" className="small secondary" aria-pressed={shown} aria-controls={id} onClick={() => setShown(!shown)}>
                {shown ? 'Hide value' : 'Show value'}
              </button>
            ) : (
              <button type="button" className="small secondary" onClick={() => onChange(EMPTY_VALUE)}>
                Remove file
              </button>
            )}
            <label className="upload small secondary">
              Upload file
              <input type="file" name="value-file" className="visually-hidden" onChange={(e) => void upload(e.target.files?.[0])} />
            </label>
          </div>
        </div>
      )}
    </Field>
  );
}
