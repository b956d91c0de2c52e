import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Any } from '../gen/google/protobuf/any.js';
import { BadRequest, ErrorInfo } from '../gen/google/rpc/error_details.js';
import { Status } from '../gen/google/rpc/status.js';

export const ERROR_DOMAIN = 'secrets.vessl.ai';

export interface FieldViolation {
  field: string;
  description: string;
}

interface ApiErrorOptions {
  /** A stable, machine-readable reason (ErrorInfo.reason), e.g. ORG_KEY_STALE. */
  reason?: string;
  fieldViolations?: FieldViolation[];
}

/** An error meant for the caller: its code and message go out as they are. */
export class ApiError extends Error {
  readonly reason?: string;
  readonly fieldViolations: FieldViolation[];

  constructor(
    readonly code: status,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.reason = options.reason;
    this.fieldViolations = options.fieldViolations ?? [];
  }
}

export class InvalidArgumentError extends ApiError {
  constructor(violations: FieldViolation[]) {
    const message = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
    super(status.INVALID_ARGUMENT, message, { reason: 'INVALID_ARGUMENT', fieldViolations: violations });
  }
}

/**
 * The error of item `prefix` of a batch (e.g. "requests[3]."): field violations are renamed
 * into the request, any other caller-facing message names the item. Other errors pass.
 */
export function inBatchItem(err: unknown, prefix: string): unknown {
  if (err instanceof InvalidArgumentError) return new InvalidArgumentError(err.fieldViolations.map((v) => ({ ...v, field: `${prefix}${v.field}` })));
  if (err instanceof ApiError) return new ApiError(err.code, `${prefix.replace(/\.$/, '')}: ${err.message}`, { reason: err.reason });
  return err;
}

export const invalidArgument = (field: string, description: string) =>
  new InvalidArgumentError([{ field, description }]);
export const notFound = (message: string, reason = 'NOT_FOUND') => new ApiError(status.NOT_FOUND, message, { reason });
export const alreadyExists = (message: string) => new ApiError(status.ALREADY_EXISTS, message, { reason: 'ALREADY_EXISTS' });
export const failedPrecondition = (message: string, reason: string) =>
  new ApiError(status.FAILED_PRECONDITION, message, { reason });
export const permissionDenied = (message: string) =>
  new ApiError(status.PERMISSION_DENIED, message, { reason: 'PERMISSION_DENIED' });
export const unauthenticated = (message: string) =>
  new ApiError(status.UNAUTHENTICATED, message, { reason: 'UNAUTHENTICATED' });
export const aborted = (message: string) => new ApiError(status.ABORTED, message, { reason: 'ABORTED' });
export const unavailable = (message: string) => new ApiError(status.UNAVAILABLE, message, { reason: 'UNAVAILABLE' });

export const INTERNAL_MESSAGE = 'internal error; the server logged the cause';
export const STORAGE_UNAVAILABLE_MESSAGE = 'the database is unavailable; the call did not complete, retry shortly';

/** Network errors, PostgreSQL's connection and shutdown states (class 08, 57P01-03, 53300), pool timeouts, SQLite busy. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300', 'SQLITE_BUSY']);
const TRANSIENT_MESSAGES = /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Timeout acquiring a connection/i;

/**
 * True when the database could not be reached or went away mid-call (a restart, a failover):
 * the caller may retry, so this is UNAVAILABLE, not INTERNAL.
 */
export function isStorageUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string' && (TRANSIENT_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    if (name === 'KnexTimeoutError' || (typeof message === 'string' && TRANSIENT_MESSAGES.test(message))) return true;
  }
  return false;
}

const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/**
 * The one place where errors become gRPC statuses. ApiErrors keep their code and message
 * and carry AIP-193 details; anything else becomes INTERNAL with a fixed message so no
 * internal text (SQL, stack, paths) ever reaches a client.
 */
export function toServiceError(err: unknown): Partial<ServiceError> & { code: status } {
  const api =
    err instanceof ApiError
      ? err
      : isStorageUnavailable(err)
        ? new ApiError(status.UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE, { reason: 'STORAGE_UNAVAILABLE' })
        : new ApiError(status.INTERNAL, INTERNAL_MESSAGE, { reason: 'INTERNAL' });
  const details: Any[] = [
    Any.fromPartial({
      typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
      value: Buffer.from(ErrorInfo.encode({ reason: api.reason ?? status[api.code], domain: ERROR_DOMAIN, metadata: {} }).finish()),
    }),
  ];
  if (api.fieldViolations.length > 0) {
    details.push(
      Any.fromPartial({
        typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
        value: Buffer.from(
          BadRequest.encode({
            fieldViolations: api.fieldViolations.map((v) => ({ field: v.field, description: v.description, reason: '' })),
          }).finish(),
        ),
      }),
    );
  }
  const metadata = new Metadata();
  metadata.set(
    STATUS_DETAILS_KEY,
    Buffer.from(Status.encode({ code: api.code, message: api.message, details }).finish()),
  );
  return { code: api.code, details: api.message, message: api.message, metadata };
}

/** What a client learns from a failed call: code, message, reason and field violations. */
export interface DecodedStatus {
  code: status;
  message: string;
  reason?: string;
  fieldViolations: FieldViolation[];
}

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && 'code' in err && 'metadata' in err;
}

export function decodeServiceError(err: ServiceError): DecodedStatus {
  const decoded: DecodedStatus = { code: err.code, message: err.details || err.message, fieldViolations: [] };
  const raw = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!Buffer.isBuffer(raw)) return decoded;
  try {
    const st = Status.decode(raw);
    decoded.message = st.message || decoded.message;
    for (const detail of st.details) {
      if (detail.typeUrl.endsWith('/google.rpc.ErrorInfo')) decoded.reason = ErrorInfo.decode(detail.value).reason;
      if (detail.typeUrl.endsWith('/google.rpc.BadRequest')) {
        decoded.fieldViolations = BadRequest.decode(detail.value).fieldViolations.map((v) => ({
          field: v.field,
          description: v.description,
        }));
      }
    }
  } catch {
    // Undecodable details: the plain code and message are still right.
  }
  return decoded;
}

/** Re-raises an error from a downstream service as an ApiError the caller may see. */
export function fromServiceError(err: ServiceError, renameField: (field: string) => string = (f) => f): ApiError {
  const d = decodeServiceError(err);
  if (d.code === status.INVALID_ARGUMENT && d.fieldViolations.length > 0) {
    return new InvalidArgumentError(d.fieldViolations.map((v) => ({ ...v, field: renameField(v.field) })));
  }
  return new ApiError(d.code, d.message, {
    reason: d.reason,
    fieldViolations: d.fieldViolations.map((v) => ({ field: renameField(v.field), description: v.description })),
  });
}

const FORWARDED_CODES = new Set([status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.NOT_FOUND, status.DATA_LOSS]);

/**
 * Maps another service's answer to what our caller may see: input and state errors keep
 * their code and message (fields renamed into the caller's request), an unreachable service
 * is UNAVAILABLE, and anything else stays internal (logged, never forwarded).
 */
export function fromDownstream(err: unknown, service: string, renameField?: (field: string) => string): unknown {
  if (!isServiceError(err)) return err;
  if (FORWARDED_CODES.has(err.code)) return fromServiceError(err, renameField);
  if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
    return unavailable(`${service} is unavailable; nothing was written, retry shortly`);
  }
  return new Error(`${service} answered ${status[err.code]}: ${err.details}`);
}
