import type { ExecWorkspaceRequest, ExecWorkspaceResponse } from '../../gen/vessl/jobs/v1/workspaces.js';
import { invalidArgument } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/logger.js';
import { Violations } from '../../runtime/validation.js';
import { LogMasker } from '../backends/log-masker.js';
import { checkTerminalSize } from './rules.js';
import type { MaskValues } from './run-values.js';
import type { ExecProcess } from './workspace-backend.js';

/**
 * One ExecWorkspace call after its start message: the client's messages drive the command's
 * stdin and terminal size, and the command's output goes back masked like a job's log (the
 * values the workspace holds, each of its forms, across chunks). Output that the masker holds
 * back because it could begin a value is released after FLUSH_AFTER_MS without more output: an
 * interactive echo cannot wait for the next keystroke. (A value printed in pieces further
 * apart than that is masked from the pause on only; the README says what masking cannot catch.)
 *
 * The command ends when the client goes away (cancel) or the server closes: it never outlives
 * its call.
 */

export const FLUSH_AFTER_MS = 25;
/** Bytes of stdin one message may carry (a paste; keystrokes are a few bytes). */
export const MAX_STDIN_CHUNK = 64 * 1024;

type Response = ExecWorkspaceResponse;

/** Output held for a client before the command's output is paused. */
export const QUEUE_HIGH_BYTES = 1024 * 1024;
const outputBytes = (item: Response) => (item.kind?.$case === 'stdout' || item.kind?.$case === 'stderr' ? item.kind.value.length : 0);

/** Masked output of one stream, flushed when it pauses; masked with a value added (rotated) meanwhile too. */
class MaskedOutput {
  private masker: LogMasker;
  private timer?: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    values: MaskValues,
    private readonly emit: (chunk: Buffer) => void,
  ) {
    this.masker = new LogMasker(values.current);
    // What is held back cannot hold the new value (no process had it yet): released, then masked with all.
    this.unsubscribe = values.subscribe(() => {
      clearTimeout(this.timer);
      this.send(this.masker.end());
      this.masker = new LogMasker(values.current);
    });
  }

  push(chunk: Buffer): void {
    this.send(this.masker.push(chunk));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.send(this.masker.flush()), FLUSH_AFTER_MS);
  }

  end(): void {
    this.unsubscribe();
    clearTimeout(this.timer);
    this.send(this.masker.end());
  }

  private send(chunk: Buffer): void {
    if (chunk.length > 0) this.emit(chunk);
  }
}

/**
 * A queue of responses the generator below yields as they come. The call takes them only as
 * fast as its client reads: above QUEUE_HIGH_BYTES of output held, the command's output is
 * paused until the client has read it down to half (a command printing without end against a
 * client that does not read would otherwise fill the server's memory).
 */
class ResponseQueue {
  private readonly items: Response[] = [];
  private wake?: () => void;
  private closed = false;
  private bytes = 0;
  private paused = false;

  constructor(private readonly output: Pick<ExecProcess, 'pauseOutput' | 'resumeOutput'>) {}

  push(item: Response): void {
    this.items.push(item);
    this.bytes += outputBytes(item);
    if (!this.paused && this.bytes > QUEUE_HIGH_BYTES) {
      this.paused = true;
      this.output.pauseOutput();
    }
    this.wake?.();
  }

  private taken(item: Response): void {
    this.bytes -= outputBytes(item);
    if (this.paused && this.bytes <= QUEUE_HIGH_BYTES / 2) {
      this.paused = false;
      this.output.resumeOutput();
    }
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *drain(): AsyncIterable<Response> {
    for (;;) {
      const item = this.items.shift();
      if (item) {
        this.taken(item);
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/**
 * Relays the rest of the call's messages to `process` and yields its masked output, then its
 * exit. A message out of place (a second start, a resize without a terminal, an oversized
 * chunk) ends the call with INVALID_ARGUMENT and the command with it.
 */
export async function* execSession(
  requests: AsyncIterator<ExecWorkspaceRequest>,
  opened: { process: ExecProcess; values: MaskValues },
  tty: boolean,
  log: Logger,
  gone: AbortSignal,
): AsyncIterable<Response> {
  const { process } = opened;
  // The client went away: its requests end as if it were done sending, and nothing may read
  // the output any more. The command ends now, not when it next prints.
  const goneAway = () => process.kill();
  if (gone.aborted) goneAway();
  else gone.addEventListener('abort', goneAway, { once: true });
  const queue = new ResponseQueue(process);
  const stdout = new MaskedOutput(opened.values, (value) => queue.push({ kind: { $case: 'stdout', value } }));
  const stderr = new MaskedOutput(opened.values, (value) => queue.push({ kind: { $case: 'stderr', value } }));
  process.onStdout((chunk) => stdout.push(chunk));
  process.onStderr((chunk) => stderr.push(chunk));
  let failure: unknown;
  const relaying = relayRequests(requests, process, tty).catch((err: unknown) => {
    failure = err;
    process.kill();
  });
  void process.exit
    .then((exit) => {
      stdout.end();
      stderr.end();
      if (failure === undefined) queue.push({ kind: { $case: 'exit', value: { code: exit.code, signal: exit.signal ?? '' } } });
    })
    .catch((err: unknown) => {
      failure ??= err;
    })
    .finally(() => queue.close());
  try {
    for await (const response of queue.drain()) yield response;
    if (failure !== undefined) throw failure;
  } finally {
    gone.removeEventListener('abort', goneAway);
    // The client went away or the call failed: the command does not outlive it.
    process.kill();
    void relaying.catch((err: unknown) => log.warn({ err }, 'exec relay failed'));
  }
}

async function relayRequests(requests: AsyncIterator<ExecWorkspaceRequest>, process: ExecProcess, tty: boolean): Promise<void> {
  let stdinOpen = true;
  for (;;) {
    const next = await requests.next();
    if (next.done) break;
    const kind = next.value.kind;
    switch (kind?.$case) {
      case 'stdin':
        if (kind.value.length > MAX_STDIN_CHUNK) throw invalidArgument('stdin', `is ${kind.value.length} bytes; at most ${MAX_STDIN_CHUNK} per message`);
        if (!stdinOpen) throw invalidArgument('stdin', 'came after close_stdin');
        // Awaited: the next message is read only once the command's stdin took these bytes.
        await process.write(kind.value);
        break;
      case 'resize': {
        if (!tty) throw invalidArgument('resize', 'is only for a command with a terminal (tty)');
        const v = new Violations();
        checkTerminalSize(v, kind.value, 'resize');
        v.throwIfAny();
        process.resize(kind.value);
        break;
      }
      case 'closeStdin':
        if (stdinOpen) process.closeStdin();
        stdinOpen = false;
        break;
      case 'start':
        throw invalidArgument('start', 'is only for the first message');
      default:
        throw invalidArgument('kind', 'is empty: send stdin, resize or close_stdin');
    }
  }
  // The client is done sending: its stdin has ended.
  if (stdinOpen) process.closeStdin();
}
