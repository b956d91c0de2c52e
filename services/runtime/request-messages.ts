import * as kms from '../gen/vessl/kms/v1/kms.js';
import * as jobs from '../gen/vessl/jobs/v1/jobs.js';
import * as secrets from '../gen/vessl/secrets/v1/secrets.js';
import * as workspaces from '../gen/vessl/jobs/v1/workspaces.js';

interface MessageType {
  fromPartial(object: unknown): unknown;
}

/** Every generated API module: the request types and service definitions of all our protos. */
export const GENERATED_API_MODULES: readonly Record<string, unknown>[] = [jobs, kms, secrets, workspaces];

/**
 * Maps an RPC path to its request type's fromPartial, so callers may leave fields out
 * (ts-proto's encoders need every field). buf's STANDARD lint guarantees requests are
 * named <Method>Request, which is what makes this lookup exact.
 */
const byPath = new Map<string, MessageType>();
for (const mod of GENERATED_API_MODULES) {
  for (const value of Object.values(mod)) {
    if (typeof value !== 'object' || value === null) continue;
    for (const method of Object.values(value as Record<string, unknown>)) {
      const m = method as { path?: unknown };
      if (typeof m?.path !== 'string') continue;
      const name = m.path.split('/').pop()!;
      const type = mod[`${name}Request`] as MessageType | undefined;
      if (type?.fromPartial) byPath.set(m.path, type);
    }
  }
}

export function completeRequest(path: string, request: unknown): unknown {
  const type = byPath.get(path);
  if (!type) throw new Error(`no request type known for ${path}`);
  return type.fromPartial(request);
}
