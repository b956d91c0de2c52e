import { mkdtempSync, rmSync } from 'node:fs';
import { removeWorkspaceRoots } from './workspace-roots.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI_BIN, run, SERVER_BIN, startServerProcess, type RunResult, type ServerProcess } from './processes.js';

/** A `vessl-secrets up` child process plus a vesslctl with its own config dir and HOME. */
export interface CliWorld {
  server: ServerProcess;
  dataDir: string;
  configDir: string;
  /** Every CLI invocation's output, for scans. */
  outputs: RunResult[];
  cli(args: string[], opts?: { input?: string | Buffer; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** vessl-secrets (server-side command) with the same data dir. */
  serverCommand(args: string[]): Promise<RunResult>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  remove(): void;
}

export async function startCliWorld(opts: { databaseUrl?: string; logLevel?: string } = {}): Promise<CliWorld> {
  const root = mkdtempSync(path.join(tmpdir(), 'vessl-cli-'));
  const dataDir = path.join(root, 'data');
  const configDir = path.join(root, 'config');
  const home = path.join(root, 'home');
  const server = await startServerProcess({
    VESSL_DATA_DIR: dataDir,
    VESSL_DATABASE_URL: opts.databaseUrl ?? '',
    VESSL_LOG_LEVEL: opts.logLevel ?? 'debug',
  });
  const outputs: RunResult[] = [];
  // A clean environment: nothing of the developer's own vesslctl settings leaks in.
  const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, VESSLCTL_CONFIG_DIR: configDir };
  return {
    server,
    dataDir,
    configDir,
    outputs,
    async cli(args, o = {}) {
      const result = await run(CLI_BIN, args, { env: { ...baseEnv, ...o.env }, input: o.input });
      outputs.push(result);
      return result;
    },
    serverCommand: (args) => run(SERVER_BIN, args, { env: { ...baseEnv, VESSL_DATA_DIR: dataDir } }),
    async stop(signal) {
      await server.stop(signal);
    },
    remove: () => {
      rmSync(root, { recursive: true, force: true });
      removeWorkspaceRoots(dataDir);
    },
  };
}
