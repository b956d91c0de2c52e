import type { ServiceError } from '@grpc/grpc-js';

/**
 * An error whose message is written for the user as it is (usage mistakes, missing
 * settings). With a cause, the line reads "<message>: <what the cause says>".
 */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandError';
  }
}

/** What an error line may mention besides the error itself. */
export interface ErrorContext {
  endpoint?: string;
  /** The command as typed, e.g. "secret create", for "see --help" hints. */
  command?: string;
}

const LOGIN_HINT = 'run `vesslctl auth login`';

/** Structural check, so that reporting an error never has to load grpc-js by itself. */
function looksLikeServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'metadata' in err;
}

/** oclif's own usage errors (missing arg, unknown flag, bad option value) carry `oclif`. */
function isOclifError(err: unknown): err is Error & { oclif: unknown } {
  return err instanceof Error && 'oclif' in err;
}

const oneLine = (text: string) =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');

/** The single line (without the "error: " prefix) that describes `err` to the user. */
export async function describeError(err: unknown, context: ErrorContext = {}): Promise<string> {
  if (err instanceof CommandError) {
    return err.cause === undefined ? err.message : `${err.message}: ${await describeError(err.cause, context)}`;
  }
  if (looksLikeServiceError(err)) return describeServiceError(err, context);
  if (isOclifError(err)) {
    const text = describeUsageError(err.message);
    return context.command ? `${text} (see \`vesslctl ${context.command} --help\`)` : text;
  }
  if (err instanceof Error) return oneLine(err.message) || err.name;
  return oneLine(String(err));
}

/**
 * oclif's parse errors span lines ("Missing 2 required args:" then one "name  description"
 * line per arg, then "See more help with --help"): one line, arg names only.
 */
function describeUsageError(message: string): string {
  const [first = '', ...rest] = message
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^See more help with --help$/i.test(line));
  const details = /^Missing \d+ required args?:$/.test(first) ? rest.map((line) => line.split(/\s+/)[0]).join(', ') : rest.join(' ');
  const text = `${first.replace(/^Parsing (--\S+)$/, '$1:')} ${details}`.trim();
  return text.charAt(0).toLowerCase() + text.slice(1);
}

async function describeServiceError(err: ServiceError, context: ErrorContext): Promise<string> {
  // Loaded here, not at the top: a failed gRPC call means grpc-js is loaded already.
  const [{ status }, { decodeServiceError }] = await Promise.all([
    import('@grpc/grpc-js'),
    import('../services/runtime/errors.js'),
  ]);
  const decoded = decodeServiceError(err);
  const codeName = status[decoded.code] ?? `code ${decoded.code}`;
  const where = context.endpoint ?? 'its endpoint';
  // A status without ErrorInfo comes from the transport (no connection), not from the server.
  const fromTransport = decoded.reason === undefined;
  if (decoded.code === status.UNAVAILABLE && fromTransport) {
    return `cannot reach vessl-secrets at ${where}: is the server running? (${codeName})`;
  }
  if (decoded.code === status.DEADLINE_EXCEEDED && fromTransport) {
    return `no answer from vessl-secrets at ${where} in time: is the server running and reachable? (${codeName})`;
  }
  const message = oneLine(decoded.message) || codeName.toLowerCase();
  if (decoded.code === status.UNAUTHENTICATED && context.command !== 'auth login') {
    return `${message}: ${LOGIN_HINT} (${codeName})`;
  }
  return `${message} (${codeName})`;
}

/** Exported for the settings checks, which give the same advice. */
export const NO_TOKEN_MESSAGE = `no token: ${LOGIN_HINT}`;
