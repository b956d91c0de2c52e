import type { ServiceError } from '@grpc/grpc-js';
import { EXIT, exitCodeOfGrpcStatus, type ExitCode } from './exit-codes.js';

/**
 * An error whose message is written for the user as it is (usage mistakes, missing
 * settings). With a cause, the line reads "<message>: <what the cause says>".
 * Its exit status is `exitCode` if given, else its cause's, else USAGE (cli/exit-codes.ts).
 */
export class CommandError extends Error {
  readonly exitCode?: ExitCode;

  constructor(message: string, options?: { cause?: unknown; exitCode?: ExitCode }) {
    super(message, options);
    this.name = 'CommandError';
    this.exitCode = options?.exitCode;
  }
}

/** The exit status vesslctl ends with after `err` (cli/exit-codes.ts). */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CommandError) return err.exitCode ?? (err.cause === undefined ? EXIT.USAGE : exitCodeOf(err.cause));
  if (looksLikeServiceError(err)) return exitCodeOfGrpcStatus(err.code);
  if (isOclifError(err)) return EXIT.USAGE;
  return EXIT.NEGATIVE;
}

/** What an error line may mention besides the error itself. */
export interface ErrorContext {
  endpoint?: string;
  /** Where the endpoint came from ("--endpoint", "VESSLCTL_ENDPOINT", ...), for connection failures. */
  endpointOrigin?: string;
  /** Whether a CA file was given: the client speaks TLS to it (and plaintext only to loopback without one). */
  caCert?: boolean;
  /** The command as typed, e.g. "secret create", for "see --help" hints. */
  command?: string;
  /** The caller's role, from the token's (unverified) claims, when known. */
  role?: string;
  /** The org the token was issued for (its claims), and the org the call was made in. */
  tokenOrg?: string;
  org?: string;
  /** The secret the command is about (`secret create NAME`), for hints that name it. */
  secretName?: string;
  /** The flags the command takes (without dashes), for "did you mean" on a mistyped one. */
  flagNames?: readonly string[];
}

const LOGIN_HINT = 'run `vesslctl auth login`';

/** Exported for the settings checks, which give the same advice. */
export const NO_TOKEN_MESSAGE = `no token: ${LOGIN_HINT}`;
export const EXPIRED_TOKEN_MESSAGE = `token expired: ${LOGIN_HINT} again`;

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
    const text = `${describeUsageError(err.message)}${await flagSuggestion(err.message, context.flagNames)}`;
    return context.command ? `${text} (see \`vesslctl ${context.command} --help\`)` : text;
  }
  if (err instanceof Error) return oneLine(err.message) || err.name;
  return oneLine(String(err));
}

/** ": did you mean --endpoint?" for oclif's "Nonexistent flag: --endpont" ('' otherwise). */
async function flagSuggestion(message: string, flagNames: readonly string[] = []): Promise<string> {
  const typed = /^Nonexistent flags?: --?([^\s,=]+)/.exec(message)?.[1];
  if (typed === undefined) return '';
  const { closest } = await import('./suggest.js');
  const meant = closest(typed, flagNames);
  return meant ? `: did you mean --${meant}?` : '';
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
  // "Nonexistent flag: --valeu=hunter2" would print a mistyped value flag's value: the name only.
  const named = /^Nonexistent flags?:/.test(first) ? first.replace(/(--?[\w-]+)=[^\s,]*/g, '$1') : first;
  const text = `${named.replace(/^Parsing (--\S+)$/, '$1:')} ${details}`.trim();
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
  if (fromTransport && (decoded.code === status.UNAVAILABLE || /Received HTTP status code/.test(decoded.message))) {
    const { describeUnreachable } = await import('./unreachable.js');
    const loopback = isLoopback(context.endpoint);
    return describeUnreachable(decoded.message, { endpoint: where, origin: context.endpointOrigin, plaintext: loopback && !context.caCert, loopback });
  }
  if (decoded.code === status.DEADLINE_EXCEEDED && fromTransport) {
    return `no answer from vessl-secrets at ${where} in time: is the server running and reachable? (${codeName})`;
  }
  const message = oneLine(decoded.message) || codeName.toLowerCase();
  if (decoded.code === status.UNAUTHENTICATED && context.command !== 'auth login') {
    return /\bexpired\b/i.test(message) ? `${EXPIRED_TOKEN_MESSAGE} (${codeName})` : `${message}: ${LOGIN_HINT} (${codeName})`;
  }
  return `${message}${hintFor(codeName, decoded.reason, { ...context, where })} (${codeName})`;
}

/** What to add to a server's message: the fix to suggest, if one helps ('' otherwise). */
function hintFor(codeName: string, reason: string | undefined, context: ErrorContext & { where: string }): string {
  switch (codeName) {
    case 'NOT_FOUND':
      if (reason === 'SECRET_NOT_FOUND') return ': run `vesslctl secret list`';
      if (reason === 'JOB_NOT_FOUND') return ': run `vesslctl job list`';
      if (reason === 'WORKSPACE_NOT_FOUND') return ': run `vesslctl workspace list`';
      if (reason === 'ATTEMPT_NOT_FOUND') return ': `vesslctl job show ID` lists its attempts';
      return '';
    case 'ALREADY_EXISTS':
      // Workspace names are taken too: their fix is another name (or deleting the old one).
      if (context.command?.startsWith('workspace ')) return '';
      return `: use \`vesslctl secret update ${context.secretName ?? 'NAME'}\``;
    case 'PERMISSION_DENIED':
      if (context.tokenOrg && context.org && context.tokenOrg !== context.org) return ` (your token is for org "${context.tokenOrg}")`;
      // A workspace is its owner's: the server's message names the owner, and no admin can grant it.
      if (context.command?.startsWith('workspace ')) return context.role ? ` (your role: ${context.role})` : '';
      return context.role ? ` (your role: ${context.role}; ask an org admin)` : ' (ask an org admin)';
    case 'UNIMPLEMENTED':
      return `: the server at ${context.where} is older than this vesslctl; upgrade it`;
    default:
      return '';
  }
}

/** True for 127.x, ::1 and localhost endpoints: a server the user may start with `make up`. */
function isLoopback(endpoint: string | undefined): boolean {
  const host = endpoint?.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host !== undefined && (host === 'localhost' || host === '::1' || /^127\./.test(host));
}
