import type { WorkspaceClient } from './system.js';

export interface ExecOutcome {
  stdout: string;
  stderr: string;
  /** Bytes as they came, for binary checks. */
  stdoutBytes: Buffer;
  code: number;
  signal: string;
}

/**
 * Runs one command in a workspace through ExecWorkspace, as a client does: start, then stdin
 * (if any) and end of input, then every answer until the exit status.
 */
export async function execIn(
  client: WorkspaceClient,
  where: { org?: string; name: string },
  command: string[],
  options: { stdin?: string | Buffer; tty?: boolean; size?: { rows: number; cols: number } } = {},
): Promise<ExecOutcome> {
  const call = client.execWorkspace({ timeoutMs: 60_000 });
  call.write({ kind: { $case: 'start', value: { org: where.org ?? 'acme', name: where.name, command, tty: options.tty ?? false, size: options.size } } });
  if (options.stdin !== undefined) call.write({ kind: { $case: 'stdin', value: Buffer.from(options.stdin) } });
  call.write({ kind: { $case: 'closeStdin', value: true } });
  call.end();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let exit: { code: number; signal: string } | undefined;
  for await (const message of call) {
    const kind = message.kind;
    if (kind?.$case === 'stdout') out.push(kind.value);
    else if (kind?.$case === 'stderr') err.push(kind.value);
    else if (kind?.$case === 'exit') exit = kind.value;
  }
  if (!exit) throw new Error('the exec ended without an exit status');
  const stdoutBytes = Buffer.concat(out);
  return { stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes, ...exit };
}

/** A shell command line as exec's argv. */
export const sh = (script: string) => ['/bin/sh', '-c', script];

/** An exec session kept open: input sent a piece at a time, output gathered as it comes. */
export interface OpenSession {
  send(stdin: string): void;
  /** stdout so far. */
  stdout(): string;
  /** Ends its input and waits for its exit. */
  close(): Promise<{ stdout: string; code: number }>;
}

/** Starts `command` in a workspace and keeps the call open, as a terminal does. */
export function openSession(client: WorkspaceClient, where: { org?: string; name: string }, command: string[]): OpenSession {
  const call = client.execWorkspace({ timeoutMs: 60_000 });
  call.write({ kind: { $case: 'start', value: { org: where.org ?? 'acme', name: where.name, command, tty: false } } });
  const out: Buffer[] = [];
  const finished = (async () => {
    let code = -1;
    for await (const message of call) {
      if (message.kind?.$case === 'stdout') out.push(message.kind.value);
      else if (message.kind?.$case === 'exit') code = message.kind.value.code;
    }
    return code;
  })();
  return {
    send: (stdin) => call.write({ kind: { $case: 'stdin', value: Buffer.from(stdin) } }),
    stdout: () => Buffer.concat(out).toString('utf8'),
    async close() {
      call.write({ kind: { $case: 'closeStdin', value: true } });
      call.end();
      const code = await finished;
      return { stdout: Buffer.concat(out).toString('utf8'), code };
    },
  };
}
