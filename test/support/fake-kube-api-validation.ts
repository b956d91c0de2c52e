/**
 * What the fake Kubernetes API server checks on every object it receives: the OpenAPI schema
 * (through kubernetes-models), and the rules the real API server enforces in code that the
 * schema does not express (names, labels, Secret keys and base64, env var names, owner
 * references, immutability). Errors are field errors shaped like the API server's.
 */
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Secret } from 'kubernetes-models/v1/Secret';

export interface FieldError {
  type: 'Invalid' | 'Required' | 'Forbidden' | 'TooLong' | 'NotSupported' | 'Duplicate';
  field: string;
  value?: unknown;
  detail?: string;
}

/** A request the real server rejects before validation (it cannot even decode the object): 400. */
export class BadRequest extends Error {}

type Json = Record<string, unknown>;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
/**
 * The API server's env var name rule (IsEnvVarName, 1.20 to 1.33): wider than a C identifier,
 * so `BAD-NAME` and `A.B` are accepted (the backend refuses them itself, before any request),
 * and neither `.` nor a name starting with `..`. (1.34+ accepts almost any printable ASCII.)
 */
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const isEnvVarName = (name: string) => ENV_VAR_NAME.test(name) && name !== '.' && !name.startsWith('..');
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

const asObject = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The OpenAPI schema check: a type mismatch is a decode error (400), the rest 422. */
function schemaErrors(model: { validate(): void }): FieldError[] {
  try {
    model.validate();
    return [];
  } catch (err) {
    const details = (err as { errors?: { instancePath?: string; keyword?: string; message?: string }[] }).errors ?? [];
    if (details.some((d) => d.keyword === 'type')) throw new BadRequest(`json: cannot unmarshal: ${(err as Error).message}`);
    return details.map((d) => ({ type: d.keyword === 'required' ? 'Required' : 'Invalid', field: (d.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.'), detail: d.message }));
  }
}

function qualifiedNameErrors(key: string, field: string): FieldError[] {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const errors: FieldError[] = [];
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) errors.push({ type: 'Invalid', field, value: key, detail: 'prefix part must be a lowercase RFC 1123 subdomain' });
  if (name.length > 63 || !QUALIFIED_NAME_PART.test(name)) errors.push({ type: 'Invalid', field, value: key, detail: "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character" });
  return errors;
}

function labelErrors(labels: unknown, field: string): FieldError[] {
  return Object.entries(asObject(labels) ?? {}).flatMap(([key, value]) => {
    const errors = qualifiedNameErrors(key, field);
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) errors.push({ type: 'Invalid', field, value, detail: 'a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' or \'.\' (at most 63)' });
    return errors;
  });
}

function annotationErrors(annotations: unknown, field: string): FieldError[] {
  const entries = Object.entries(asObject(annotations) ?? {});
  const errors = entries.flatMap(([key]) => qualifiedNameErrors(key.toLowerCase(), field));
  const size = entries.reduce((n, [k, v]) => n + k.length + String(v).length, 0);
  if (size > 256 * 1024) errors.push({ type: 'TooLong', field, detail: 'may not be more than 262144 bytes' });
  return errors;
}

function ownerReferenceErrors(refs: unknown): FieldError[] {
  const list = asArray(refs);
  const errors = list.flatMap((ref, i) => {
    const r = asObject(ref) ?? {};
    const field = `metadata.ownerReferences[${i}]`;
    return (['apiVersion', 'kind', 'name', 'uid'] as const).filter((k) => typeof r[k] !== 'string' || r[k] === '').map((k): FieldError => ({ type: 'Invalid', field: `${field}.${k}`, value: r[k], detail: `${k} must not be empty` }));
  });
  if (list.filter((r) => asObject(r)?.controller === true).length > 1) errors.push({ type: 'Invalid', field: 'metadata.ownerReferences', detail: 'Only one reference can have Controller set to true' });
  return errors;
}

function metadataErrors(body: Json, nameRule: 'subdomain' | 'label'): FieldError[] {
  const metadata = asObject(body.metadata) ?? {};
  const name = metadata.name;
  const errors: FieldError[] = [];
  if (typeof name !== 'string' || name === '') errors.push({ type: 'Required', field: 'metadata.name', detail: 'name or generateName is required' });
  else if (nameRule === 'label' ? !isDns1123Label(name) : !isDns1123Subdomain(name)) {
    errors.push({ type: 'Invalid', field: 'metadata.name', value: name, detail: `a lowercase RFC 1123 ${nameRule} must consist of lower case alphanumeric characters or '-'${nameRule === 'label' ? ', at most 63' : ''}` });
  }
  return [...errors, ...labelErrors(metadata.labels, 'metadata.labels'), ...annotationErrors(metadata.annotations, 'metadata.annotations'), ...ownerReferenceErrors(metadata.ownerReferences)];
}

export function secretErrors(body: Json): FieldError[] {
  const errors = [...schemaErrors(new Secret(body as ConstructorParameters<typeof Secret>[0])), ...metadataErrors(body, 'subdomain')];
  let size = 0;
  for (const [key, value] of Object.entries(asObject(body.data) ?? {})) {
    if (!CONFIG_KEY.test(key) || key === '.' || key.startsWith('..') || key.length > 253) {
      errors.push({ type: 'Invalid', field: `data[${key}]`, value: key, detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (regex used for validation is '[-._a-zA-Z0-9]+')" });
    }
    if (typeof value !== 'string' || !STRICT_BASE64.test(value)) throw new BadRequest(`illegal base64 data in data[${key}]`);
    size += Buffer.from(value, 'base64').length;
  }
  for (const key of Object.keys(asObject(body.stringData) ?? {})) {
    if (!CONFIG_KEY.test(key)) errors.push({ type: 'Invalid', field: `stringData[${key}]`, value: key, detail: 'a valid config key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'' });
  }
  if (size > 1024 * 1024) errors.push({ type: 'TooLong', field: 'data', detail: 'may not be more than 1048576 bytes' });
  return errors;
}

/** An update of a Secret: an immutable one keeps its data and stays immutable. */
export function secretUpdateErrors(old: Json, updated: Json): FieldError[] {
  if (old.immutable !== true) return [];
  const errors: FieldError[] = [];
  if (updated.immutable !== true) errors.push({ type: 'Forbidden', field: 'immutable', detail: 'field is immutable when `immutable` is set' });
  if (JSON.stringify(sorted(old.data)) !== JSON.stringify(sorted(updated.data))) errors.push({ type: 'Forbidden', field: 'data', detail: 'field is immutable when `immutable` is set' });
  if (updated.stringData !== undefined) errors.push({ type: 'Forbidden', field: 'data', detail: 'field is immutable when `immutable` is set' });
  return errors;
}

function containerErrors(container: unknown, field: string): FieldError[] {
  const c = asObject(container) ?? {};
  const errors: FieldError[] = [];
  if (typeof c.name !== 'string' || !isDns1123Label(c.name)) errors.push({ type: 'Invalid', field: `${field}.name`, value: c.name, detail: 'must be a lowercase RFC 1123 label' });
  if (typeof c.image !== 'string' || c.image.trim() === '') errors.push({ type: 'Required', field: `${field}.image`, detail: 'image is required' });
  asArray(c.env).forEach((entry, i) => {
    const e = asObject(entry) ?? {};
    const envField = `${field}.env[${i}]`;
    if (typeof e.name !== 'string' || !isEnvVarName(e.name)) {
      errors.push({ type: 'Invalid', field: `${envField}.name`, value: e.name, detail: "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit" });
    }
    const from = asObject(e.valueFrom);
    if (from === undefined) return;
    if (e.value !== undefined && e.value !== '') errors.push({ type: 'Invalid', field: `${envField}.valueFrom`, detail: 'may not be specified when `value` is not empty' });
    const sources = Object.keys(from).filter((k) => from[k] !== undefined);
    if (sources.length !== 1) errors.push({ type: 'Invalid', field: `${envField}.valueFrom`, detail: 'may not have more than one field specified at a time' });
    const ref = asObject(from.secretKeyRef);
    if (ref === undefined) return;
    if (typeof ref.name !== 'string' || !isDns1123Subdomain(ref.name)) errors.push({ type: 'Invalid', field: `${envField}.valueFrom.secretKeyRef.name`, value: ref.name, detail: 'must be a lowercase RFC 1123 subdomain' });
    if (typeof ref.key !== 'string' || !CONFIG_KEY.test(ref.key)) errors.push({ type: 'Invalid', field: `${envField}.valueFrom.secretKeyRef.key`, value: ref.key, detail: 'a valid config key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'' });
  });
  return errors;
}

export function jobErrors(body: Json): FieldError[] {
  const errors = [...schemaErrors(new Job(body as ConstructorParameters<typeof Job>[0])), ...metadataErrors(body, 'label')];
  const spec = asObject(body.spec) ?? {};
  const template = asObject(spec.template) ?? {};
  const podSpec = asObject(template.spec) ?? {};
  errors.push(...labelErrors(asObject(template.metadata)?.labels, 'spec.template.metadata.labels'));
  for (const [key, min] of [['backoffLimit', 0], ['ttlSecondsAfterFinished', 0], ['activeDeadlineSeconds', 1]] as const) {
    const v = spec[key];
    if (v !== undefined && (typeof v !== 'number' || v < min)) errors.push({ type: 'Invalid', field: `spec.${key}`, value: v, detail: `must be greater than or equal to ${min}` });
  }
  if (podSpec.restartPolicy !== 'Never' && podSpec.restartPolicy !== 'OnFailure') {
    errors.push({ type: 'NotSupported', field: 'spec.template.spec.restartPolicy', value: podSpec.restartPolicy, detail: 'supported values: "OnFailure", "Never"' });
  }
  const containers = asArray(podSpec.containers);
  if (containers.length === 0) errors.push({ type: 'Required', field: 'spec.template.spec.containers', detail: 'must have at least one container' });
  const names = containers.map((c) => asObject(c)?.name);
  if (new Set(names).size !== names.length) errors.push({ type: 'Duplicate', field: 'spec.template.spec.containers', detail: 'container names must be unique' });
  containers.forEach((c, i) => errors.push(...containerErrors(c, `spec.template.spec.containers[${i}]`)));
  return errors;
}

/** An update of a Job: the pod template and selector cannot change. */
export function jobUpdateErrors(old: Json, updated: Json): FieldError[] {
  const oldSpec = asObject(old.spec) ?? {};
  const newSpec = asObject(updated.spec) ?? {};
  return (['template', 'selector', 'completionMode'] as const)
    .filter((k) => JSON.stringify(sorted(oldSpec[k])) !== JSON.stringify(sorted(newSpec[k])))
    .map((k) => ({ type: 'Invalid', field: `spec.${k}`, detail: 'field is immutable' }));
}

/** A deep copy with object keys in order, for comparing JSON documents. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  const o = asObject(v);
  if (o === undefined) return v;
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sorted(o[k])]));
}

/** The API server's cause list and message for 422 Invalid. */
export function invalidStatusParts(kind: string, name: string, errors: FieldError[]) {
  const causes = errors.map((e) => {
    const text = e.type === 'Invalid' || e.type === 'NotSupported' ? `${e.type === 'Invalid' ? 'Invalid value' : 'Unsupported value'}: ${JSON.stringify(e.value)}${e.detail ? `: ${e.detail}` : ''}` : `${e.type}: ${e.detail ?? ''}`;
    return { reason: `FieldValue${e.type}`, message: text, field: e.field };
  });
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const message = `${kind} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`;
  return { message, causes };
}
