import type { Writable } from 'node:stream';
import { onceAny } from '../../runtime/events.js';

/**
 * Writes a command's stdin bytes and resolves once the stream can take more (or has gone away):
 * the exec relay awaits it before it reads the client's next message, so a client that sends
 * faster than the command reads is held back by gRPC's flow control instead of filling the
 * server's memory.
 */
export function writeStdin(stream: Writable, data: Uint8Array): Promise<void> {
  if (!stream.writable || stream.writableEnded) return Promise.resolve();
  if (stream.write(data)) return Promise.resolve();
  return onceAny(stream, ['drain', 'close', 'error']);
}
