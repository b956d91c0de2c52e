import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Structured logs. Handlers log fields they choose, never a whole request; these redact
 * paths are a second line of defence for anything value- or token-shaped.
 */
export function createLogger(name: string, destination?: DestinationStream, level = process.env.VESSL_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      base: { service: name },
      redact: {
        paths: [
          'authorization',
          'token',
          '*.token',
          '*.authorization',
          'value',
          '*.value',
          'sealedBox',
          '*.sealedBox',
          'plaintext',
          '*.plaintext',
          'ciphertext',
          '*.ciphertext',
          'wrappedDek',
          '*.wrappedDek',
        ],
        censor: '[redacted]',
      },
      serializers: { err: serializeError },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/**
 * Errors as pino serializes them, without what a database error may quote from the row
 * (PostgreSQL's detail "Failing row contains (...)", the statement's parameters): those can
 * hold ciphertext or wrapped keys. The message, code and stack stay.
 */
function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (typeof serialized !== 'object' || serialized === null) return serialized;
  const { detail: _detail, where: _where, parameters: _parameters, bindings: _bindings, ...kept } = serialized;
  return kept;
}
