// Plays a server whose own parent left a descriptor open across exec (argv[2], e.g. 47): runs one
// sandboxed local job that lists its open descriptors, and prints that list.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TERMINAL_STATES } from '../../services/job-launcher/backend.js';
import { createLocalBackend } from '../../services/job-launcher/backends/local.js';
import { until } from './until.js';

const stray = Number(process.argv[2]);
const dataDir = await mkdtemp(path.join(tmpdir(), 'vessl-stray-fd-'));
const backend = createLocalBackend({ dataDir });
try {
  const spec = { org: 'acme', jobId: 'j_00000000000000fd', attempt: 1, jobName: 'fds', image: '', command: `ls /proc/self/fd; [ -e /proc/self/fd/${stray} ] && echo STRAY-OPEN`, env: [], secretEnv: [] };
  const { ref } = await backend.launch(spec);
  const handle = { org: spec.org, jobId: spec.jobId, attempt: 1, ref };
  await until('the job to end', async () => (TERMINAL_STATES.includes((await backend.status(handle)).state) ? true : undefined), 60_000);
  process.stdout.write(await readFile(path.join(dataDir, 'jobs', spec.jobId, 'attempt-1.log'), 'utf8'));
} finally {
  await backend.close();
  await rm(dataDir, { recursive: true, force: true });
}
