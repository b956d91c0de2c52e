// The console's only way to the server: POST /api/<gRPC path> with the proto3 JSON of the
// request message, through the server's generic bridge. The method names and message shapes
// come from the generated service definitions (types only), so they cannot drift from the protos.
import type { JobServiceService } from '../../services/gen/vessl/jobs/v1/jobs.js';
import type { WorkspaceServiceService } from '../../services/gen/vessl/jobs/v1/workspaces.js';
import type { KeyManagementServiceService } from '../../services/gen/vessl/kms/v1/kms.js';
import type { SecretServiceService } from '../../services/gen/vessl/secrets/v1/secrets.js';
import { currentToken } from './session';

/** A message as proto3 JSON: timestamps as RFC 3339 strings, bytes as base64, enums by name; defaults left out. */
export type Json<T> = T extends Date
  ? string
  : T extends Uint8Array
    ? string
    : T extends number
      ? `${number}` extends `${T}` // a plain number stays one; an enum's members are written by name
        ? number
        : string
      : T extends (infer U)[]
        ? Json<U>[]
        : T extends object
          ? { [K in keyof T]?: Json<T[K]> }
          : T;

type Rpc<D> = {
  [K in keyof D]: D[K] extends {
    responseStream: infer S;
    requestSerialize: (value: infer Req) => unknown;
    responseDeserialize: (bytes: Buffer) => infer Res;
  }
    ? S extends true
      ? (request: Json<Req>) => Promise<Json<Res>[]>
      : (request: Json<Req>) => Promise<Json<Res>>
    : never;
};

export interface FieldViolation {
  field: string;
  description: string;
}

/** A refused or failed call, in the server's own words (AIP-193). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: string,
    readonly httpStatus: number,
    readonly reason: string | undefined,
    readonly fieldViolations: FieldViolation[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface ErrorBody {
  error?: { status?: string; message?: string; details?: { reason?: string; fieldViolations?: FieldViolation[] }[] };
}

function apiErrorOf(body: ErrorBody, httpStatus: number): ApiError {
  const error = body.error ?? {};
  const details = error.details ?? [];
  return new ApiError(
    error.message ?? `the server answered HTTP ${httpStatus}`,
    error.status ?? 'UNKNOWN',
    httpStatus,
    details.find((d) => d.reason)?.reason,
    details.flatMap((d) => d.fieldViolations ?? []),
  );
}

/** Told of every UNAUTHENTICATED answer (an expired or refused token): the app returns to login. */
const unauthenticatedListeners = new Set<(error: ApiError) => void>();
export function onUnauthenticated(listener: (error: ApiError) => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

async function post(path: string, request: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(`/api/${path}`, { method: 'POST', headers, body: JSON.stringify(request), cache: 'no-store' });
  } catch {
    throw new ApiError('cannot reach the server: is `make up` still running?', 'UNAVAILABLE', 0, undefined, []);
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as ErrorBody;
    const error = apiErrorOf(body, response.status);
    if (error.status === 'UNAUTHENTICATED') unauthenticatedListeners.forEach((listener) => listener(error));
    throw error;
  }
  return response;
}

/**
 * The response message, or for a server-streaming method (NDJSON, one message per line, an
 * error as the last line) every message, read to the end.
 */
async function call(path: string, request: unknown): Promise<unknown> {
  const response = await post(path, request);
  if (!(response.headers.get('content-type') ?? '').includes('ndjson')) return response.json();
  const text = await response.text();
  const messages: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const message = JSON.parse(line) as ErrorBody;
    if (message.error) throw apiErrorOf(message, 200);
    messages.push(message);
  }
  return messages;
}

/** A client for one service: `secrets.createSecret(req)` posts to /api/vessl.secrets.v1.SecretService/CreateSecret. */
function service<D>(fullName: string): Rpc<D> {
  return new Proxy({} as Rpc<D>, {
    get(_target, key) {
      if (typeof key !== 'string') return undefined;
      return (request: unknown) => call(`${fullName}/${key[0].toUpperCase()}${key.slice(1)}`, request);
    },
  });
}

export const secretsApi = service<typeof SecretServiceService>('vessl.secrets.v1.SecretService');
export const kmsApi = service<typeof KeyManagementServiceService>('vessl.kms.v1.KeyManagementService');
export const jobsApi = service<typeof JobServiceService>('vessl.jobs.v1.JobService');
/** Without ExecWorkspace: a terminal streams both ways, which the bridge does not carry. */
export const workspacesApi = service<Omit<typeof WorkspaceServiceService, 'execWorkspace'>>('vessl.jobs.v1.WorkspaceService');

export type Secret = NonNullable<Json<Awaited<ReturnType<typeof SecretServiceService.getSecret.responseDeserialize>>>>;
export type Job = Json<Awaited<ReturnType<typeof JobServiceService.getJob.responseDeserialize>>>;
export type Workspace = Json<Awaited<ReturnType<typeof WorkspaceServiceService.getWorkspace.responseDeserialize>>>;
