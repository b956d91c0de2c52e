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
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}
