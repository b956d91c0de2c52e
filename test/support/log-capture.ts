import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../services/runtime/logger.js';

/** A logger at debug level whose lines (pino JSON) a test can read back. */
export function captureLog(name: string): { log: Logger; lines: string[]; find(msg: string): Record<string, unknown> | undefined } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const find = (msg: string) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === msg);
  return { log: createLogger(name, destination, 'debug'), lines, find };
}
