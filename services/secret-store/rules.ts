import type { Violations } from '../runtime/validation.js';

export { checkSealedValue } from '../runtime/sealed-value.js';

/** The field rules of DESIGN §4, in one place for the server (and reused by the CLI). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_KEY_LENGTH = 256;
export const MAX_DESCRIPTION_LENGTH = 1024;

export const isValidKey = (key: string) => key.length <= MAX_KEY_LENGTH && KEY_PATTERN.test(key);

export function checkName(v: Violations, name: string, field: string): void {
  if (name === '') v.add(field, 'is required');
  else v.check(NAME_PATTERN.test(name), field, 'must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (letters, digits, ".", "_", "-"; at most 128)');
}

export function checkKey(v: Violations, key: string, field: string): void {
  if (key === '') v.add(field, 'is required');
  else if (key.length > MAX_KEY_LENGTH) v.add(field, `is ${key.length} characters; at most ${MAX_KEY_LENGTH} are allowed`);
  else v.check(KEY_PATTERN.test(key), field, 'must be an environment variable name: ^[A-Za-z_][A-Za-z0-9_]*$');
}

export function checkDescription(v: Violations, description: string, field: string): void {
  const length = [...description].length;
  v.check(length <= MAX_DESCRIPTION_LENGTH, field, `is ${length} characters; at most ${MAX_DESCRIPTION_LENGTH} are allowed`);
}
