import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../services/runtime/repo-files.js';

export const ROOT = packageRoot();
export const SERVER_BIN = path.join(ROOT, 'bin', 'vessl-secrets.js');
export const CLI_BIN = path.join(ROOT, 'bin', 'vesslctl.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, feeding `input` on stdin. No shell is involved. */
export function run(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A long-running child process, ready once its stdout says "serving on HOST:PORT". */
export interface ServerProcess {
  child: ChildProcess;
  endpoint: string;
  stdout(): string;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startServingProcess(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} did not start in ${timeoutMs} ms:\n${out}\n${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /serving on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          endpoint: match[1],
          stdout: () => out,
          stderr: () => err,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`${bin} exited with ${code} before serving:\n${err}`), { code, stderr: err }));
    });
  });
}

/** A service's standalone entrypoint in the build, e.g. serviceMain('key-management'). */
export const serviceMain = (service: 'key-management' | 'secret-store' | 'job-launcher') => path.join(ROOT, 'dist/services', service, 'main.js');

/** `vessl-secrets up` (the all-in-one server) on port 0, its web console too. */
export const startServerProcess = (env: NodeJS.ProcessEnv, timeoutMs?: number) =>
  startServingProcess(SERVER_BIN, ['up'], { VESSL_LISTEN: '127.0.0.1:0', VESSL_WEB_LISTEN: '127.0.0.1:0', ...env }, timeoutMs);

/** What a `vessl-secrets up` that must refuse to start printed on stderr; a failure if it served after all. */
export async function refusedStart(env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const server = await startServerProcess(env);
    await server.stop();
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? String(err);
  }
  throw new Error('the server started, but it must refuse to');
}

/** A TCP port nothing listens on right now (for processes that must know each other's ports up front). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
