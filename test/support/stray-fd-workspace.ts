// Plays a server whose own parent left a descriptor open across exec (argv[2], e.g. 47): starts
// one local workspace, runs a command in it (plain and with a terminal) that looks for that
// descriptor in every process of the sandbox, and prints what they saw.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalWorkspaceBackend } from '../../services/job-launcher/workspaces/local-workspaces.js';
import type { ExecRequest, WorkspaceBackend, WorkspaceHandle } from '../../services/job-launcher/workspaces/workspace-backend.js';

const stray = Number(process.argv[2]);
const dataDir = await mkdtemp(path.join(tmpdir(), 'vessl-stray-fd-ws-'));
const backend = createLocalWorkspaceBackend({ dataDir, stopGraceMs: 1000 });
const look = `for f in /proc/[0-9]*/fd/${stray}; do [ -e "$f" ] && echo "STRAY-OPEN $f"; done; echo looked`;

async function run(b: WorkspaceBackend, handle: WorkspaceHandle, request: ExecRequest): Promise<string> {
  const exec = await b.exec(handle, request);
  let out = '';
  exec.onStdout((chunk) => (out += chunk.toString('utf8')));
  exec.closeStdin();
  await exec.exit;
  return out;
}

try {
  const spec = { org: 'acme', workspaceId: 'w_00000000000000fd', run: 1, name: 'fds', image: '', command: '', env: [], secretEnv: [], secretFiles: [] };
  const { ref } = await backend.start(spec);
  const handle = { org: spec.org, workspaceId: spec.workspaceId, run: 1, ref };
  process.stdout.write(await run(backend, handle, { command: ['/bin/sh', '-c', look], tty: false }));
  process.stdout.write(await run(backend, handle, { command: ['/bin/sh', '-c', look], tty: true, size: { rows: 24, cols: 80 } }));
  await backend.remove(spec.org, spec.workspaceId);
} finally {
  await backend.close();
  await rm(dataDir, { recursive: true, force: true });
}
