import { status } from '@grpc/grpc-js';
import type { Principal } from '../runtime/auth.js';
import { ApiError } from '../runtime/errors.js';

/**
 * Log streams one principal may have open at once, by default. A follow holds an open file
 * (local backend) or a connection to the API server (Kubernetes) for as long as it runs:
 * without a cap one member could hold every descriptor the process has.
 */
export const DEFAULT_LOG_STREAMS_PER_PRINCIPAL = 16;

/** A held place among a principal's streams; give it back exactly once when the stream ends. */
export interface StreamSlot {
  release(): void;
}

/**
 * Counts the log streams each principal (org and subject) has open in this process and
 * refuses one more than the cap with RESOURCE_EXHAUSTED. Per process: with N replicas a
 * principal can hold N times the cap, each replica's descriptors still bounded.
 */
export class LogStreamLimits {
  private readonly open = new Map<string, number>();

  constructor(
    readonly perPrincipal: number = DEFAULT_LOG_STREAMS_PER_PRINCIPAL,
    /** What is counted, in words and as the ErrorInfo reason (workspace exec sessions are capped alike). */
    private readonly kind = { noun: 'job log streams', reason: 'LOG_STREAMS_EXHAUSTED' },
  ) {
    if (!Number.isInteger(perPrincipal) || perPrincipal < 1) throw new RangeError('the log stream cap must be a positive integer');
  }

  acquire(principal: Principal): StreamSlot {
    const key = `${principal.org}\n${principal.subject}`;
    const held = this.open.get(key) ?? 0;
    if (held >= this.perPrincipal) {
      throw new ApiError(
        status.RESOURCE_EXHAUSTED,
        `you already have ${held} ${this.kind.noun} open, the most one caller may have at once (${this.perPrincipal}); close one and retry`,
        { reason: this.kind.reason },
      );
    }
    this.open.set(key, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.open.get(key) ?? 1) - 1;
        if (left === 0) this.open.delete(key);
        else this.open.set(key, left);
      },
    };
  }

  /** Streams open now for this principal (for tests and metrics). */
  held(principal: Principal): number {
    return this.open.get(`${principal.org}\n${principal.subject}`) ?? 0;
  }
}
