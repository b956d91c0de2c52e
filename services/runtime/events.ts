import type { EventEmitter } from 'node:events';

/** Resolves on the first of these events, and stops listening for all of them. Never rejects. */
export function onceAny(emitter: EventEmitter, events: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of events) emitter.off(event, done);
      resolve();
    };
    for (const event of events) emitter.on(event, done);
  });
}
