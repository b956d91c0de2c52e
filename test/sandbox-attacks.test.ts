import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Job_State, type Job } from '../services/gen/vessl/jobs/v1/jobs.js';
import { defaultWorkRoot, UNSANDBOXED_WARNING } from '../services/job-launcher/sandbox/job-sandbox.js';
import { defaultWorkspaceFilesRoot, defaultWorkspaceHomeRoot } from '../services/job-launcher/workspaces/local-workspaces.js';
import { startTestSystem, type JobClient, type TestSystem, type WorkspaceClient } from './support/system.js';
import { hostProcessesWith } from './support/host-processes.js';
import { until } from './support/until.js';
import { execIn, sh } from './support/workspace-exec.js';

/**
 * A job is untrusted code (docs/isolation.md), and so is what a member runs in a workspace.
 * Each row is an attack tried from inside a sandbox: by a job of an admin of the victim's own
 * org, by a job of a member of another org, and by a command run (exec) in the workspaces of
 * both; every one must fail. A victim job and a victim workspace of org acme run meanwhile,
 * each with a secret injected, the same kind of value mounted as secret files, and a file in
 * its HOME, so the rows that go after another's values have something to find.
 */

const TERMINAL = [Job_State.STATE_SUCCEEDED, Job_State.STATE_FAILED, Job_State.STATE_CANCELLED];
const VICTIM_VALUE = 'victim-token-5f1c9a7e2b';
const VICTIM_MARKER = 'victim-home-notes-8d3b';
/** Mounted into the victim as files (`--secret-file`), in /run/secrets and in its HOME. */
const VICTIM_FILE_VALUE = 'victim-file-key-3a9e6c0d41';
const VICTIM_FILES = ['/run/secrets/victim.pem', '/home/job/.victim/key'];

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('a job cannot get out of its sandbox (local backend)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let acmeAdmin: JobClient;
  let rivalMember: JobClient;
  let acmeAdminWorkspaces: WorkspaceClient;
  let rivalMemberWorkspaces: WorkspaceClient;
  let victimWorkspacePid: number;

  let victimPid: number;
  let serverFiles: string[];
  let fingerprints: Map<string, string>;
  let secretsOnDisk: string[];

  const finished = (jobs: JobClient, org: string, id: string) =>
    until(`job ${id} to end`, async () => {
      const job = await jobs.getJob({ org, id });
      return TERMINAL.includes(job.state) ? job : undefined;
    });
  const logOf = (job: Job) => readFileSync(path.join(sys.dataDir, 'jobs', job.id, 'attempt-1.log'), 'utf8');

  before(async () => {
    sys = await startTestSystem({ org: 'acme' });
    const acmeSecrets = sys.secrets(await sys.token('admin'));
    await acmeSecrets.createSecret({ org: 'acme', secret: { name: 'VICTIM_TOKEN' }, value: await sys.seal(VICTIM_VALUE) });
    await acmeSecrets.createSecret({ org: 'acme', secret: { name: 'VICTIM_FILE' }, value: await sys.seal(VICTIM_FILE_VALUE) });
    acmeAdmin = sys.jobs(await sys.token('admin'));
    rivalMember = sys.jobs(await sys.token('member', { org: 'rival', subject: 'rival-member' }));
    const acmeMember = sys.jobs(await sys.token('member', { subject: 'acme-member' }));
    // `; : marker` keeps the marker in the shell's command line (a last command may replace the shell).
    const command = `echo ${VICTIM_MARKER} > "$HOME/notes"; sleep 600; : victim-sleeper`;
    const files = VICTIM_FILES.map((filePath) => ({ secretName: 'VICTIM_FILE', envName: '', filePath }));
    await acmeMember.createJob({ org: 'acme', job: { name: 'victim', image: 'x', command, secrets: [{ secretName: 'VICTIM_TOKEN' }, ...files] } });
    victimPid = (await until('the victim job to run', async () => hostProcessesWith('victim-sleeper').find((p) => readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').startsWith('/bin/sh'))))!.pid;
    // The victim workspace: the same values, as a variable and as files, and a note in its HOME.
    const acmeMemberWorkspaces = sys.workspaces(await sys.token('member', { subject: 'acme-member' }));
    const workspaceCommand = `echo ${VICTIM_MARKER} > "$HOME/notes"; sleep 600; : victim-workspace`;
    await acmeMemberWorkspaces.createWorkspace({ org: 'acme', workspace: { name: 'victim', image: 'x', command: workspaceCommand, secrets: [{ secretName: 'VICTIM_TOKEN' }, ...files] } });
    victimWorkspacePid = (await until('the victim workspace to run', async () => hostProcessesWith('victim-workspace').find((p) => readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').startsWith('/bin/sh'))))!.pid;
    acmeAdminWorkspaces = sys.workspaces(await sys.token('admin'));
    rivalMemberWorkspaces = sys.workspaces(await sys.token('member', { org: 'rival', subject: 'rival-member' }));
    await acmeAdminWorkspaces.createWorkspace({ org: 'acme', workspace: { name: 'attacker', image: 'x' } });
    await rivalMemberWorkspaces.createWorkspace({ org: 'rival', workspace: { name: 'attacker', image: 'x' } });
    // Everything of the server's that a job could want: the data dir's files (keys, tokens, databases).
    serverFiles = readdirSync(sys.dataDir).map((f) => path.join(sys.dataDir, f)).filter((f) => statSync(f).isFile());
    expect(serverFiles.map((f) => path.basename(f))).to.include.members(['issuer-key.json', 'master-keyring.json']);
    fingerprints = new Map(['issuer-key.json', 'master-keyring.json'].map((f) => [f, sha256(path.join(sys.dataDir, f))]));
    // Strings that must never reach an attacker's log: key material from those files, and the victim's value in any form.
    const keyMaterial = (file: string) => [...readFileSync(path.join(sys.dataDir, file), 'utf8').matchAll(/"([A-Za-z0-9_\-+/=]{40,})"/g)].map((m) => m[1]);
    secretsOnDisk = [...keyMaterial('issuer-key.json'), ...keyMaterial('master-keyring.json')];
    expect(secretsOnDisk.length).to.be.greaterThan(0);
  });
  after(async () => {
    await sys?.stop();
  });

  const forms = (value: string) => [value, Buffer.from(value).toString('hex'), Buffer.from(value).toString('base64')];
  const leaks = () => [...forms(VICTIM_VALUE), ...forms(VICTIM_FILE_VALUE), VICTIM_MARKER, ...secretsOnDisk];

  interface Attack {
    name: string;
    command: () => string;
    /** Printed only if the attack worked. */
    success?: string[];
  }

  const dataDir = () => sys.dataDir;
  const workRoot = () => defaultWorkRoot(sys.dataDir);
  const homeRoot = () => defaultWorkspaceHomeRoot(sys.dataDir);
  const filesRoot = () => defaultWorkspaceFilesRoot(sys.dataDir);
  const catAll = (prefix: string) => () => serverFiles.map((f) => `cat "${prefix}${f}"`).join('; ');
  const ATTACKS: Attack[] = [
    { name: 'reads the server\'s files by absolute path', command: catAll('') },
    { name: 'reads the server\'s files by a path relative to HOME', command: () => serverFiles.map((f) => `cat "$HOME/../../../../../../..${f}"`).join('; ') },
    { name: 'reads the server\'s files through /proc/1/root', command: catAll('/proc/1/root') },
    { name: 'reads the server\'s files through the server\'s /proc entry', command: () => `${catAll(`/proc/${process.pid}/root`)()}; ls /proc/${process.pid}/cwd/; cat /proc/${process.pid}/environ` },
    { name: 'finds the data dir by listing the filesystem', command: () => `ls -la / /tmp /home /run "${path.dirname(dataDir())}" 2>&1; find / -xdev -name 'issuer-key.json' -exec cat {} + 2>/dev/null` },
    { name: 'reads another job\'s environment through /proc', command: () => `cat /proc/*/environ | od -An -v -tx1 | tr -d ' \\n'; echo; cat /proc/${victimPid}/environ; ls /proc` },
    // The names are put together at run time: the job's own command line must not match them.
    { name: 'sees the server or another job among its processes', command: () => 'a=victim; b=moc; n=no; for f in /proc/[0-9]*/cmdline; do c=$(tr "\\0" " " < "$f"); case "$c" in *"$a-sleeper"*|*"${b}ha"*|*"${n}de"*) echo SAW-OTHERS;; esac; done', success: ['SAW-OTHERS'] },
    { name: 'signals the server', command: () => `kill -0 ${process.pid} && echo SIGNALLED; kill -CONT ${process.pid} && echo SIGNALLED`, success: ['SIGNALLED'] },
    { name: 'signals another job', command: () => `kill -0 ${victimPid} && echo SIGNALLED; kill -STOP ${victimPid} && echo SIGNALLED`, success: ['SIGNALLED'] },
    { name: 'writes into the data dir', command: () => `echo pwned > "${dataDir()}/pwned" && echo WROTE; echo pwned >> "${dataDir()}/issuer-key.json" && echo WROTE`, success: ['WROTE'] },
    { name: 'reads or writes another attempt\'s work dir', command: () => `ls "${workRoot()}" && echo LISTED; cat "${workRoot()}"/*/notes; echo pwned > "${workRoot()}/pwned" && echo WROTE`, success: ['WROTE', 'LISTED'] },
    {
      name: 'reads another job\'s secret files (its /run/secrets, its HOME, through /proc, by searching)',
      command: () =>
        [
          ...VICTIM_FILES.map((f) => `cat "${f}" "/proc/${victimPid}/root${f}" | od -An -tx1 | tr -d ' \\n'`),
          `cat "${workRoot()}"/*/.victim/key /proc/*/root/run/secrets/* 2>/dev/null | od -An -tx1 | tr -d ' \\n'`,
          'find / -xdev -name "victim*" -exec cat {} + 2>/dev/null',
        ].join('; '),
    },
    {
      name: 'reads another workspace\'s home, secret files or environment (by path, through /proc, in the host\'s roots)',
      command: () =>
        [
          `cat /proc/${victimWorkspacePid}/environ /proc/${victimWorkspacePid}/root/home/job/notes 2>/dev/null | od -An -tx1 | tr -d ' \\n'`,
          `ls "${homeRoot()}" && echo LISTED; cat "${homeRoot()}"/*/notes 2>/dev/null | od -An -tx1 | tr -d ' \\n'`,
          `ls "${filesRoot()}" && echo LISTED; cat "${filesRoot()}"/*/* "${filesRoot()}"/*/*/* 2>/dev/null | od -An -tx1 | tr -d ' \\n'`,
          `cat /proc/${victimWorkspacePid}/root/run/secrets/* 2>/dev/null | od -An -tx1 | tr -d ' \\n'`,
          `echo pwned > "${homeRoot()}/pwned" && echo WROTE`,
        ].join('; '),
      success: ['LISTED', 'WROTE'],
    },
    { name: 'leaves symlinks into the data dir in its work dir', command: () => `ln -s "${dataDir()}" "$HOME/data"; ln -s "${dataDir()}/issuer-key.json" "$HOME/issuer-key.json"; ln -s "${dataDir()}" "$HOME/../escape"; cat "$HOME/data/issuer-key.json"` },
    { name: 'holds a capability, or makes a user namespace to get one', command: () => `grep -q '^CapEff:\\s*0*$' /proc/self/status || echo HAS-CAPS; unshare -Ur true 2>/dev/null && echo NEW-USERNS`, success: ['HAS-CAPS', 'NEW-USERNS'] },
    { name: 'reads a block device, the kernel log or /sys', command: () => 'for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/kmsg /dev/mem /dev/port; do head -c 1 "$d" > /dev/null 2>&1 && echo "READ-$d"; done; [ -e /sys/kernel ] && echo HAS-SYS', success: ['READ-', 'HAS-SYS'] },
    { name: 'finds an fd of the server or of bwrap open (its arguments, its status pipe)', command: () => 'for fd in 3 4 5 6 7 8 9; do [ -e "/proc/$$/fd/$fd" ] && echo "OPEN-FD-$fd"; done; echo \'{"child-pid": 1, "pid-namespace": 1}\' >&4 && echo WROTE-STATUS', success: ['OPEN-FD-', 'WROTE-STATUS'] },
  ];

  /** Runs the attack's command as a job (its masked log) or in a workspace (its masked output). */
  const asJob = (jobs: () => JobClient, org: string) => async (command: string) => {
    const { job } = await jobs().createJob({ org, job: { name: 'attack', image: 'x', command } });
    return logOf(await finished(jobs(), org, job!.id));
  };
  const inWorkspace = (workspaces: () => WorkspaceClient, org: string) => async (command: string) => {
    const result = await execIn(workspaces(), { org, name: 'attacker' }, sh(command));
    return result.stdout + result.stderr;
  };
  const ATTACKERS: { who: string; run: (command: string) => Promise<string> }[] = [
    { who: 'a job of an admin of the victim\'s org', run: asJob(() => acmeAdmin, 'acme') },
    { who: 'a job of a member of another org', run: asJob(() => rivalMember, 'rival') },
    { who: 'a workspace of an admin of the victim\'s org', run: inWorkspace(() => acmeAdminWorkspaces, 'acme') },
    { who: 'a workspace of a member of another org', run: inWorkspace(() => rivalMemberWorkspaces, 'rival') },
  ];

  for (const attacker of ATTACKERS) {
    for (const attack of ATTACKS) {
      it(`${attack.name}: fails for ${attacker.who}`, async () => {
        const log = await attacker.run(`${attack.command()}; echo ATTACK-DONE`);
        expect(log, 'the attack ran to its end').to.include('ATTACK-DONE');
        for (const marker of attack.success ?? []) expect(log, log).to.not.include(marker);
        for (const leak of leaks()) expect(log.includes(leak), `the log holds ${leak.slice(0, 12)}...:\n${log.slice(0, 2000)}`).to.equal(false);
        // The server's keys are as they were, and nothing was added beside them.
        for (const [file, hash] of fingerprints) expect(sha256(path.join(sys.dataDir, file)), file).to.equal(hash);
        expect(existsSync(path.join(sys.dataDir, 'pwned'))).to.equal(false);
        expect(existsSync(path.join(workRoot(), 'pwned'))).to.equal(false);
        expect(existsSync(path.join(homeRoot(), 'pwned'))).to.equal(false);
        // The victims run on, unsignalled (a stopped process shows state T).
        for (const pid of [victimPid, victimWorkspacePid]) expect(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0]).to.not.equal('T');
      });
    }
  }

  it('runs each job as a host uid of its own, neither the server\'s nor another job\'s', async function () {
    if (process.getuid?.() !== 0) this.skip(); // only a root server can give jobs uids of their own (docs/isolation.md)
    const { job } = await rivalMember.createJob({ org: 'rival', job: { name: 'uid', image: 'x', command: 'sleep 600; : uid-probe' } });
    const probe = await until('the job to run', async () => hostProcessesWith('uid-probe').find((p) => p.uid !== process.getuid?.()) ?? undefined);
    const victimUid = hostProcessesWith('victim-sleeper')[0].uid;
    expect(probe.uid).to.not.equal(process.getuid?.());
    expect(probe.uid).to.not.equal(victimUid);
    expect(probe.uid).to.be.at.least(100_000);
    await rivalMember.terminateJob({ org: 'rival', id: job!.id });
  });

  it('ends a daemon the job left behind when the job ends', async () => {
    const stamp = Date.now();
    const marker = `daemon-${stamp}`;
    // The marker is put together at run time, so that only the daemons' command lines hold it; the job ends once it sees both run.
    const command = [
      `m=daemon; m=$m-${stamp}`,
      'setsid sh -c "sleep 600; : $m" > /dev/null 2>&1 &',
      'nohup sh -c "sleep 600; : $m" > /dev/null 2>&1 &',
      'until [ "$(grep -l -- "$m" /proc/[0-9]*/cmdline 2>/dev/null | wc -l)" -ge 2 ]; do sleep 0.05; done',
      'echo both-daemons-run',
    ].join('\n');
    const { job } = await rivalMember.createJob({ org: 'rival', job: { name: 'daemon', image: 'x', command } });
    const done = await finished(rivalMember, 'rival', job!.id);
    expect(done.state).to.equal(Job_State.STATE_SUCCEEDED);
    expect(logOf(done)).to.include('both-daemons-run');
    // The sandbox's PID namespace ended with its shell: nothing of it is left once the attempt is over.
    expect(hostProcessesWith(marker)).to.deep.equal([]);
  });

  it('ends every process of a terminated job, also those that left its process group', async () => {
    const marker = `terminated-${Date.now()}`;
    const { job } = await rivalMember.createJob({ org: 'rival', job: { name: 'escapee', image: 'x', command: `setsid sh -c 'trap "" TERM; sleep 600; : ${marker}' & sleep 600; : ${marker}` } });
    await until('both processes to run', async () => (hostProcessesWith(marker).length >= 2 ? true : undefined));
    const terminated = await rivalMember.terminateJob({ org: 'rival', id: job!.id });
    expect(terminated.state).to.equal(Job_State.STATE_CANCELLED);
    expect(hostProcessesWith(marker)).to.deep.equal([]);
  });

  it('ends a job terminated right after its launch, before its sandbox has reported in', async () => {
    const marker = `early-${Date.now()}`;
    const { job } = await rivalMember.createJob({ org: 'rival', job: { name: 'early', image: 'x', command: `sleep 600; : ${marker}` } });
    const terminated = await rivalMember.terminateJob({ org: 'rival', id: job!.id });
    expect(terminated.state).to.equal(Job_State.STATE_CANCELLED);
    expect(hostProcessesWith(marker)).to.deep.equal([]);
  });

  it('removes the work dir with whatever the job left in it, not following its symlinks', async () => {
    const before = readdirSync(sys.dataDir).sort();
    const { job } = await rivalMember.createJob({
      org: 'rival',
      job: { name: 'litter', image: 'x', command: `mkdir -p a/b; echo x > a/b/f; chmod 000 a/b a; ln -s "${sys.dataDir}" data; ln -s / root` },
    });
    expect((await finished(rivalMember, 'rival', job!.id)).state).to.equal(Job_State.STATE_SUCCEEDED);
    expect(readdirSync(sys.dataDir).sort()).to.deep.equal(before);
    for (const [file, hash] of fingerprints) expect(sha256(path.join(sys.dataDir, file)), file).to.equal(hash);
    // Only the victim's work dir remains (its job runs).
    expect(readdirSync(workRoot()), readFileSync(sys.logFile, 'utf8').split('\n').filter((l) => /warn|error|"level":[45]0/.test(l)).join('\n')).to.have.length(1);
  });
});

describe('a server crash leaves no job running', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vessl-crash-jobs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('will not start the local backend without a sandbox: one line names the fix', async () => {
    const { run, SERVER_BIN } = await import('./support/processes.js');
    const result = await run(SERVER_BIN, ['up', '--listen', '127.0.0.1:0'], { env: { PATH: path.join(dir, 'no-bwrap-here'), VESSL_DATA_DIR: path.join(dir, 'no-sandbox'), VESSL_WEB_LISTEN: '127.0.0.1:0', VESSL_LOG_LEVEL: 'warn' } });
    expect(result.code).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.deep.equal([
      'error: the local job backend needs bubblewrap (bwrap is not on PATH): install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces (sysctl user.max_user_namespaces=15000), or, on a single-user machine only, start with --unsafe-no-job-sandbox',
    ]);
  });

  it('kills a running job with the server (SIGKILL), and reports it failed after the restart', async () => {
    const { startServingProcess, SERVER_BIN } = await import('./support/processes.js');
    const { loadIssuerKeys, mintToken, EMBEDDED_TOKEN_SETTINGS } = await import('../services/runtime/auth.js');
    const { createServiceClient } = await import('../services/runtime/grpc-client.js');
    const { JobServiceService } = await import('../services/gen/vessl/jobs/v1/jobs.js');
    const env = { VESSL_DATA_DIR: dir, VESSL_LOG_LEVEL: 'warn', VESSL_WEB_LISTEN: '127.0.0.1:0' };
    const serve = () => startServingProcess(SERVER_BIN, ['up', '--listen', '127.0.0.1:0'], env);
    const server = await serve();
    const issuer = await loadIssuerKeys(dir, false);
    const token = await mintToken(issuer.privateKey, { role: 'admin', org: 'default', subject: 'crash', ttlSeconds: 600, settings: EMBEDDED_TOKEN_SETTINGS });
    const marker = `crash-${Date.now()}`;
    let jobs = createServiceClient(JobServiceService, server.endpoint, { token: async () => token });
    const { job } = await jobs.createJob({ org: 'default', job: { name: 'orphan', image: 'x', command: `sleep 600; : ${marker}` } });
    await until('the job to run', async () => (hostProcessesWith(marker).length > 0 ? true : undefined));
    jobs.close();
    await server.stop('SIGKILL');
    // bwrap --die-with-parent: the spawner goes with the server, and the sandbox with the spawner.
    await until('the job to end with the server', async () => (hostProcessesWith(marker).length === 0 ? true : undefined));
    const again = await serve();
    try {
      jobs = createServiceClient(JobServiceService, again.endpoint, { token: async () => token });
      const shown = await jobs.getJob({ org: 'default', id: job!.id });
      expect(shown.state).to.equal(Job_State.STATE_FAILED);
      expect(shown.attempts[0].message).to.match(/server restarted/);
      jobs.close();
    } finally {
      await again.stop();
    }
  });
});

describe('the unsafe opt-out (--unsafe-no-job-sandbox)', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  before(async () => {
    sys = await startTestSystem({ org: 'acme', sandbox: { kind: 'none' } });
  });
  after(async () => {
    await sys?.stop();
  });

  it('says so in every job create and job restart answer', async () => {
    const jobs = sys.jobs(await sys.token('member'));
    const created = await jobs.createJob({ org: 'acme', job: { name: 'laptop', image: 'x', command: 'true' } });
    expect(created.warnings).to.deep.equal([UNSANDBOXED_WARNING]);
    await until('the job to end', async () => (TERMINAL.includes((await jobs.getJob({ org: 'acme', id: created.job!.id })).state) ? true : undefined));
    const restarted = await jobs.restartJob({ org: 'acme', id: created.job!.id });
    expect(restarted.warnings).to.deep.equal([UNSANDBOXED_WARNING]);
  });
});
