import { expect } from 'chai';
import type { ExecWorkspaceRequest, ExecWorkspaceResponse } from '../../gen/vessl/jobs/v1/workspaces.js';
import { createLogger } from '../../runtime/logger.js';
import { execSession, QUEUE_HIGH_BYTES } from './exec-session.js';
import { RunValues } from './run-values.js';
import type { ExecExitStatus, ExecProcess, TerminalSize } from './workspace-backend.js';

/**
 * The exec relay on its own, with a process that the test plays: what a backend cannot be made
 * to show on demand (a command that never takes its stdin, output that stops mid-value).
 */

const log = createLogger('exec-session-test', { write: () => true } as never, 'fatal');

/** A command the test plays: stdin writes resolve when the test says so. */
class PlayedProcess implements ExecProcess {
  readonly written: Buffer[] = [];
  readonly sizes: TerminalSize[] = [];
  stdinClosed = false;
  killed = false;
  outputPaused = false;
  /** Resolves the pending stdin write, if any. */
  takeStdin?: () => void;
  private stdout?: (chunk: Buffer) => void;
  private finish!: (exit: ExecExitStatus) => void;
  readonly exit = new Promise<ExecExitStatus>((resolve) => (this.finish = resolve));

  write(data: Uint8Array): Promise<void> {
    this.written.push(Buffer.from(data));
    return new Promise((resolve) => (this.takeStdin = resolve));
  }
  closeStdin(): void {
    this.stdinClosed = true;
  }
  resize(size: TerminalSize): void {
    this.sizes.push(size);
  }
  pauseOutput(): void {
    this.outputPaused = true;
  }
  resumeOutput(): void {
    this.outputPaused = false;
  }
  kill(): void {
    this.killed = true;
    this.finish({ code: 137, signal: 'SIGKILL' });
  }
  onStdout(listener: (chunk: Buffer) => void): void {
    this.stdout = listener;
  }
  onStderr(): void {}
  print(text: string): void {
    this.stdout!(Buffer.from(text));
  }
  end(code: number): void {
    this.finish({ code });
  }
}

/** The client's messages, each handed over when the test pushes it; counts how many the relay asked for. */
class ClientMessages implements AsyncIterator<ExecWorkspaceRequest> {
  asked = 0;
  private readonly queued: ExecWorkspaceRequest[] = [];
  private waiting?: (result: IteratorResult<ExecWorkspaceRequest>) => void;
  private done = false;

  push(kind: ExecWorkspaceRequest['kind']): void {
    const message = { kind };
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: message, done: false });
    } else this.queued.push(message);
  }
  end(): void {
    this.done = true;
    this.waiting?.({ value: undefined, done: true });
  }
  next(): Promise<IteratorResult<ExecWorkspaceRequest>> {
    this.asked++;
    const message = this.queued.shift();
    if (message) return Promise.resolve({ value: message, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

const stdin = (text: string): ExecWorkspaceRequest['kind'] => ({ $case: 'stdin', value: Buffer.from(text) });
/** Lets pending promise callbacks run (no timer: the relay's steps are all microtasks here). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

async function collect(answers: AsyncIterable<ExecWorkspaceResponse>): Promise<{ out: string; exit?: ExecExitStatus; error?: unknown }> {
  let out = '';
  let exit: ExecExitStatus | undefined;
  try {
    for await (const answer of answers) {
      if (answer.kind?.$case === 'stdout') out += answer.kind.value.toString();
      if (answer.kind?.$case === 'exit') exit = { code: answer.kind.value.code, signal: answer.kind.value.signal };
    }
  } catch (error) {
    return { out, exit, error };
  }
  return { out, exit };
}

describe('exec session relay', () => {
  it('reads no further message from the client while the command has not taken the last stdin bytes', async () => {
    const process = new PlayedProcess();
    const client = new ClientMessages();
    const done = collect(execSession(client, { process, values: new RunValues() }, false, log, new AbortController().signal));
    for (let i = 0; i < 5; i++) client.push(stdin(`chunk-${i}`));
    await settle();
    expect(process.written.map(String)).to.deep.equal(['chunk-0']);
    expect(client.asked).to.equal(1);
    process.takeStdin!();
    await settle();
    expect(process.written.map(String)).to.deep.equal(['chunk-0', 'chunk-1']);
    for (let i = 2; i < 5; i++) {
      process.takeStdin!();
      await settle();
    }
    process.takeStdin!();
    client.end();
    await settle();
    expect(process.stdinClosed, 'the client\'s end is the end of stdin').to.equal(true);
    process.end(0);
    expect((await done).exit).to.deep.equal({ code: 0, signal: '' });
  });

  it('lets out output held back as the start of a value once it pauses, and masks a whole value', async () => {
    const process = new PlayedProcess();
    const client = new ClientMessages();
    const answers = execSession(client, { process, values: new RunValues([Buffer.from('hf_secretvalue')]) }, true, log, new AbortController().signal)[Symbol.asyncIterator]();
    const firstAnswer = answers.next(); // the relay starts listening
    process.print('$ hf_');
    // "hf_" could begin the value: it is held, then let out when nothing follows.
    const first = await firstAnswer;
    expect(first.value?.kind).to.deep.include({ $case: 'stdout' });
    const shown = [(first.value!.kind as { value: Buffer }).value.toString()];
    if (shown.join('') !== '$ hf_') shown.push(((await answers.next()).value!.kind as { value: Buffer }).value.toString());
    expect(shown.join('')).to.equal('$ hf_');
    process.print('token: hf_secretvalue\n');
    process.end(0);
    client.end();
    const rest: string[] = [];
    for (let next = await answers.next(); !next.done; next = await answers.next()) {
      if (next.value.kind?.$case === 'stdout') rest.push(next.value.kind.value.toString());
    }
    expect(rest.join('')).to.equal('token: ***\n');
  });

  it('ends the call with INVALID_ARGUMENT and kills the command on a message out of place', async () => {
    const process = new PlayedProcess();
    const client = new ClientMessages();
    const done = collect(execSession(client, { process, values: new RunValues() }, false, log, new AbortController().signal));
    client.push({ $case: 'resize', value: { rows: 10, cols: 10 } });
    const { error } = await done;
    expect(String(error)).to.include('resize: is only for a command with a terminal');
    expect(process.killed).to.equal(true);
    expect(process.sizes).to.deep.equal([]);
  });

  it('pauses the command\'s output while more than QUEUE_HIGH_BYTES wait for the client, and resumes it once the client read them down to half', async () => {
    const process = new PlayedProcess();
    const client = new ClientMessages();
    const answers = execSession(client, { process, values: new RunValues() }, false, log, new AbortController().signal)[Symbol.asyncIterator]();
    const first = answers.next();
    const chunk = 'x'.repeat(QUEUE_HIGH_BYTES / 4);
    process.print(chunk); // taken at once by the pending read
    await first;
    for (let i = 0; i < 4; i++) process.print(chunk);
    expect(process.outputPaused, 'at QUEUE_HIGH_BYTES').to.equal(false);
    process.print(chunk);
    expect(process.outputPaused, 'above QUEUE_HIGH_BYTES').to.equal(true);
    await answers.next();
    await answers.next();
    expect(process.outputPaused, 'still above half').to.equal(true);
    await answers.next();
    expect(process.outputPaused, 'at half').to.equal(false);
    await answers.return?.(undefined);
  });

  it('kills a command that prints nothing when the client goes away (its messages just end, as when it is done sending)', async () => {
    const process = new PlayedProcess();
    const client = new ClientMessages();
    const gone = new AbortController();
    const done = collect(execSession(client, { process, values: new RunValues() }, false, log, gone.signal));
    client.end();
    await settle();
    expect(process.stdinClosed, 'its end of input is passed on').to.equal(true);
    expect(process.killed, 'a client done sending still reads the output').to.equal(false);
    gone.abort();
    expect(process.killed).to.equal(true);
    expect((await done).exit).to.deep.equal({ code: 137, signal: 'SIGKILL' });
  });

  it('kills the command when the client goes away', async () => {
    const process = new PlayedProcess();
    const client = new ClientMessages();
    const answers = execSession(client, { process, values: new RunValues() }, false, log, new AbortController().signal)[Symbol.asyncIterator]();
    const first = answers.next(); // the relay starts listening
    process.print('hello\n');
    await first;
    await answers.return?.(undefined);
    expect(process.killed).to.equal(true);
  });
});
