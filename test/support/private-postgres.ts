import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './processes.js';

/**
 * A PostgreSQL server of this test's own (initdb in a temporary folder, on a free port), so
 * a test can restart it without touching the machine's shared server. Runs as the
 * `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
 */
export interface PrivatePostgres {
  url: string;
  /** pg_ctl stop -m fast: every connection is cut and new ones are refused, until start(). */
  shutDown(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server for good and removes its files. */
  remove(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = (() => {
    try {
      return readdirSync(root).sort((a, b) => Number(b) - Number(a));
    } catch {
      return [];
    }
  })();
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}: install the postgresql package (apt-get install postgresql)`);
  return path.join(root, versions[0], 'bin');
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'vessl-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  const run = (tool: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args], { stdio: 'pipe' })
      : execFileSync(path.join(bin, tool), args, { stdio: 'pipe' });
  if (asRoot) {
    const { uid, gid } = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const pgCtl = (...args: string[]) => run('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', ...args]);
  pgCtl('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async shutDown() {
      pgCtl('-m', 'fast', 'stop');
    },
    async start() {
      pgCtl('start');
    },
    async remove() {
      try {
        pgCtl('-m', 'immediate', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
