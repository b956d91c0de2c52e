// vesslctl's exit statuses: what a script can tell from `$?` alone. One table, which the errors,
// `vesslctl help exit-codes` and the README's section all come from.

export const EXIT = {
  /** The command did what was asked (a check's answer was yes). */
  OK: 0,
  /** The command ran, and the answer is no: a check failed, a confirmation was declined, the server refused a change as it stands (already exists, precondition). */
  NEGATIVE: 1,
  /** The command line or local input is wrong: unknown command or flag, a missing argument, a bad value, an unreadable file. */
  USAGE: 2,
  /** What the command names does not exist (a secret, a job, a key). */
  NOT_FOUND: 3,
  /** Not logged in, the token is invalid or expired, or the caller's role may not do it. */
  AUTH: 4,
  /** vessl-secrets could not be reached, did not answer in time, or failed. */
  SERVER: 5,
  /** Interrupted (Ctrl-C); a long operation reports how far it got first. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table `vesslctl help exit-codes` prints and the README shows: status, meaning, examples. */
export const EXIT_CODE_TABLE: Array<{ code: ExitCode; meaning: string; examples: string }> = [
  { code: EXIT.OK, meaning: 'success', examples: '`secret verify` matches, `audit verify` finds the chain intact' },
  {
    code: EXIT.NEGATIVE,
    meaning: 'a negative answer',
    examples: '`secret verify` does not match, `audit verify` finds the chain broken, a confirmation answered "n", a name already taken',
  },
  { code: EXIT.USAGE, meaning: 'a usage error', examples: 'an unknown command or flag, a missing argument, a malformed value or file, a key the server refuses' },
  { code: EXIT.NOT_FOUND, meaning: 'not found', examples: 'no such secret, job, attempt or key' },
  { code: EXIT.AUTH, meaning: 'not authenticated or not allowed', examples: 'no token, an expired or invalid token, a role that may not do it' },
  { code: EXIT.SERVER, meaning: 'the server could not be reached or failed', examples: 'nothing listening, TLS or protocol mismatch, no answer in time, an internal error' },
  { code: EXIT.INTERRUPTED, meaning: 'interrupted (Ctrl-C)', examples: 'a prompt or `job logs -f` stopped; `admin master-key rewrap` prints how far it got (done: false)' },
];

/**
 * gRPC status codes (by number, so that grpc-js need not be loaded) to exit statuses. A code not
 * listed (CANCELLED, ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED) is a refusal: NEGATIVE.
 */
const BY_GRPC_CODE: Record<number, ExitCode> = {
  2: EXIT.SERVER, // UNKNOWN
  3: EXIT.USAGE, // INVALID_ARGUMENT
  4: EXIT.SERVER, // DEADLINE_EXCEEDED
  5: EXIT.NOT_FOUND, // NOT_FOUND
  7: EXIT.AUTH, // PERMISSION_DENIED
  8: EXIT.SERVER, // RESOURCE_EXHAUSTED
  11: EXIT.USAGE, // OUT_OF_RANGE
  12: EXIT.SERVER, // UNIMPLEMENTED
  13: EXIT.SERVER, // INTERNAL
  14: EXIT.SERVER, // UNAVAILABLE
  15: EXIT.SERVER, // DATA_LOSS
  16: EXIT.AUTH, // UNAUTHENTICATED
};

/** The exit status of a gRPC status code. */
export const exitCodeOfGrpcStatus = (code: number): ExitCode => BY_GRPC_CODE[code] ?? EXIT.NEGATIVE;

/** The table as text, for `vesslctl help exit-codes`. */
export function renderExitCodes(): string {
  const width = Math.max(...EXIT_CODE_TABLE.map((row) => row.meaning.length));
  return EXIT_CODE_TABLE.map((row) => `${String(row.code).padStart(3)}  ${row.meaning.padEnd(width)}  ${row.examples.replaceAll('`', '')}`).join('\n');
}
