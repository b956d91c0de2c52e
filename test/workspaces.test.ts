import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Workspace_State, type Workspace } from '../services/gen/vessl/jobs/v1/workspaces.js';
import { digestBytes, fileFacts, onceReachable, printFileFacts } from './support/chaos.js';
import { hostProcessesWith } from './support/host-processes.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type SecretClient, type TestSystem, type WorkspaceClient } from './support/system.js';
import { until } from './support/until.js';
import { execIn, openSession, sh } from './support/workspace-exec.js';

/**
 * Workspaces end to end on the local backend, through the real services (issue 19): created
 * with variables and files, entered with exec, kept current while they run (a rotated file is
 * rewritten in place, a deleted one removed, each audited) while variables stay on their
 * version and show as stale; stopped, started with current values, deleted.
 */

const ORG = 'acme';
const PEM_V1 = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDworkspacePemVersionOne0000000000000000000000000000000\n-----END OPENSSH PRIVATE KEY-----\n';
const PEM_V2 = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDworkspacePemVersionTwo0000000000000000000000000000000\n-----END OPENSSH PRIVATE KEY-----\n';
const BINARY = Buffer.from([0x30, 0x82, 0x00, 0x00, 0xff, 0xfe, 0x00, ...Buffer.from('workspace-binary-middle'), 0x00, 0x0a, 0x80]);
const TOKEN_V1 = 'hf_workspaceTokenVersionOne123';
const TOKEN_V2 = 'hf_workspaceTokenVersionTwo456';
const KEY_PATH = '/run/secrets/ssh/id_ed25519';
const BLOB_PATH = '/home/job/.config/blob.der';

/** Files under `dir` holding `needle`. */
function filesHolding(dir: string, needle: Buffer): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesHolding(full, needle);
    return entry.isFile() && statSync(full).size < 64 * 1024 * 1024 && readFileSync(full).includes(needle) ? [full] : [];
  });
}

const secretOf = (w: Workspace, name: string) => w.injected.find((s) => s.secretName === name)!;

for (const engine of engines()) {
  describe(`workspaces on the local backend (${engine.name})`, function () {
    let sys: TestSystem;
    let admin: SecretClient;
    let mine: WorkspaceClient;

    const get = (name: string) => mine.getWorkspace({ org: ORG, name });
    const running = (name: string) => until(`workspace ${name} to run`, async () => ((await get(name)).state === Workspace_State.STATE_RUNNING ? true : undefined));

    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
      admin = sys.secrets(await sys.token('admin'));
      mine = sys.workspaces(await sys.token('member', { subject: 'mia@acme' }));
      await admin.createSecret({ org: ORG, secret: { name: 'ssh-key', key: 'SSH_KEY' }, value: await sys.seal(PEM_V1) });
      await admin.createSecret({ org: ORG, secret: { name: 'der-blob', key: 'DER_BLOB' }, value: await sys.seal(BINARY) });
      await admin.createSecret({ org: ORG, secret: { name: 'HF_TOKEN' }, value: await sys.seal(TOKEN_V1) });
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('creates a running workspace whose commands get its variables and byte-exact, read-only 0400 files on tmpfs', async () => {
      const { workspace, warnings } = await mine.createWorkspace({
        org: ORG,
        workspace: {
          name: 'dev',
          image: 'python:3.12',
          env: [{ name: 'PLAIN', value: 'plain-value' }],
          secrets: [{ secretName: 'HF_TOKEN' }, { secretName: 'ssh-key', filePath: KEY_PATH }, { secretName: 'der-blob', filePath: BLOB_PATH }],
        },
      });
      expect(warnings).to.deep.equal([]);
      expect(workspace).to.include({ org: ORG, name: 'dev', run: 1, createBy: 'mia@acme', backend: 'local', shellCommand: 'vesslctl workspace shell dev' });
      expect(workspace!.id).to.match(/^w_[0-9a-f]{16}$/);
      expect(workspace!.injected.map((s) => [s.secretName, s.envName, s.filePath, s.version, s.stale])).to.deep.equal([
        ['der-blob', '', BLOB_PATH, 1, false],
        ['ssh-key', '', KEY_PATH, 1, false],
        ['HF_TOKEN', 'HF_TOKEN', '', 1, false],
      ]);
      await running('dev');

      const facts = fileFacts((await execIn(mine, { name: 'dev' }, sh(printFileFacts([KEY_PATH, BLOB_PATH])))).stdout);
      expect(facts.get(KEY_PATH)?.sha256).to.equal(digestBytes(Buffer.from(PEM_V1)));
      expect(facts.get(BLOB_PATH)?.sha256).to.equal(digestBytes(BINARY));
      for (const p of [KEY_PATH, BLOB_PATH]) {
        expect(facts.get(p), p).to.include({ mode: '400', fs: 'tmpfs', write: 'refused', chmod: 'refused' });
        expect(facts.get(p)!.owner).to.equal(facts.get(p)!.me);
      }
      const env = await execIn(mine, { name: 'dev' }, sh('printf %s "$HF_TOKEN" | sha256sum | cut -c1-64; echo "$PLAIN"; echo "$HOME"; pwd'));
      expect(env.stdout.split('\n')).to.deep.equal([digestBytes(Buffer.from(TOKEN_V1)), 'plain-value', '/home/job', '/home/job', '']);
      expect(env.code).to.equal(0);
    });

    it('passes stdin, stdout, stderr and the exit status of a command, and masks values in its output', async () => {
      const piped = await execIn(mine, { name: 'dev' }, sh('tr a-z A-Z; echo oops >&2; exit 3'), { stdin: 'hello workspace\n' });
      expect(piped).to.include({ stdout: 'HELLO WORKSPACE\n', stderr: 'oops\n', code: 3, signal: '' });
      const echoed = await execIn(mine, { name: 'dev' }, sh('echo "token=$HF_TOKEN"; cat /run/secrets/ssh/id_ed25519'));
      expect(echoed.stdout).to.equal('token=***\n***\n');
      expect(echoed.stdout).not.to.include(TOKEN_V1);
      const missing = await execIn(mine, { name: 'dev' }, ['no-such-program-here']);
      expect(missing.code).to.equal(127);
    });

    it('tells a command with a terminal what the terminal is (TERM), unless the workspace sets TERM itself', async () => {
      const term = async (name: string) => (await execIn(mine, { name }, sh('printf "%s" "$TERM"'), { tty: true, size: { rows: 24, cols: 80 } })).stdout;
      expect(await term('dev')).to.equal('xterm-256color');
      expect((await execIn(mine, { name: 'dev' }, sh('printf "%s" "${TERM-unset}"'))).stdout, 'no terminal, no TERM').to.equal('unset');
      await mine.createWorkspace({ org: ORG, workspace: { name: 'vt', image: 'x', env: [{ name: 'TERM', value: 'vt100' }] } });
      await running('vt');
      expect(await term('vt')).to.equal('vt100');
      await mine.deleteWorkspace({ org: ORG, name: 'vt' });
    });

    for (const tty of [false, true]) {
      it(`ends a command and what it started when its client goes away mid-exec (${tty ? 'terminal' : 'plain'})`, async () => {
        const marker = tty ? '31536011' : '31536012';
        const call = mine.execWorkspace({ timeoutMs: 60_000 });
        call.write({ kind: { $case: 'start', value: { org: ORG, name: 'dev', command: sh(`sleep ${marker}1 & sleep ${marker}2`), tty } } });
        const answered = (async () => {
          for await (const message of call) void message;
        })().catch((err: unknown) => err);
        await until('both sleeps to run', async () => (hostProcessesWith(marker).length >= 2 ? true : undefined));
        call.cancel();
        await answered;
        await until('every process of the command to be gone', async () => (hostProcessesWith(marker).length === 0 ? true : undefined), 5000);
      });
    }

    it('makes a command wait on its output while its client does not read it, instead of holding it without bound', async () => {
      // 64 KiB a round, the round counted in a file: how far it got shows how much was taken from it.
      const rounds = async () => Number((await execIn(mine, { name: 'dev' }, sh('cat /tmp/rounds 2>/dev/null || echo 0'))).stdout);
      const call = mine.execWorkspace({ timeoutMs: 60_000 });
      call.write({ kind: { $case: 'start', value: { org: ORG, name: 'dev', command: sh('i=0; while :; do head -c 65536 /dev/zero; i=$((i + 1)); echo $i > /tmp/rounds; done'), tty: false } } });
      const answers = call[Symbol.asyncIterator]();
      await answers.next();
      let last = -1;
      const stalled = await until('the command to stall or run away', async () => {
        const now = await rounds();
        const verdict = now === last || now > 400 ? now : undefined;
        last = now;
        return verdict;
      });
      // 400 rounds are 25 MiB: it stalled at about what the pipe, the server (1 MiB) and the connection hold.
      expect(stalled).to.be.below(400);
      await until('the command to go on once its client reads', async () => {
        for (let read = 0; read < 16; read++) await answers.next();
        return (await rounds()) > stalled ? true : undefined;
      });
      call.cancel();
      await answers.return?.();
    });

    it('rewrites a rotated file in the running workspace within seconds, while the variable stays on its version and shows stale', async () => {
      // A shell opened before the rotation: what it prints of the new value is masked too.
      const shell = openSession(mine, { name: 'dev' }, ['/bin/sh']);
      shell.send('echo ready\n');
      await until('the shell to answer', async () => (shell.stdout() === 'ready\n' ? true : undefined));
      await admin.updateSecret({ org: ORG, secret: { name: 'ssh-key' }, value: await sys.seal(PEM_V2), updateMask: ['value'] });
      await admin.updateSecret({ org: ORG, secret: { name: 'HF_TOKEN' }, value: await sys.seal(TOKEN_V2), updateMask: ['value'] });
      const refreshed = await until('the file to be refreshed', async () => {
        const w = await get('dev');
        return secretOf(w, 'ssh-key').version === 2 ? w : undefined;
      });
      expect(secretOf(refreshed, 'ssh-key')).to.include({ version: 2, currentVersion: 2, stale: false, removed: false });
      expect(secretOf(refreshed, 'ssh-key').refreshTime!.getTime()).to.be.greaterThan(refreshed.startTime!.getTime());
      expect(secretOf(refreshed, 'HF_TOKEN')).to.include({ version: 1, currentVersion: 2, stale: true });
      const seen = await execIn(mine, { name: 'dev' }, sh('sha256sum < /run/secrets/ssh/id_ed25519 | cut -c1-64; printf %s "$HF_TOKEN" | sha256sum | cut -c1-64'));
      expect(seen.stdout.split('\n').slice(0, 2)).to.deep.equal([digestBytes(Buffer.from(PEM_V2)), digestBytes(Buffer.from(TOKEN_V1))]);
      // Both versions are masked: the run has held both.
      expect((await execIn(mine, { name: 'dev' }, sh('cat /run/secrets/ssh/id_ed25519'))).stdout).to.equal('***\n');
      shell.send('cat /run/secrets/ssh/id_ed25519\n');
      expect(await shell.close()).to.deep.equal({ stdout: 'ready\n***\n', code: 0 });

      const events = await admin.listAuditEvents({ org: ORG, secretName: 'ssh-key', action: 'secret.referenced' });
      const refresh = events.events.find((e) => e.details.refresh === 'true');
      expect(refresh?.details).to.include({ workspace: refreshed.id, run: '1', as: `file ${KEY_PATH}`, via: 'svc:job-launcher' });
      expect(refresh).to.include({ actor: 'mia@acme', secretVersion: 2 });
    });

    it('removes a deleted secret\'s file from the running workspace and audits it', async () => {
      await admin.deleteSecret({ org: ORG, name: 'der-blob' });
      const w = await until('the file to be removed', async () => {
        const got = await get('dev');
        return secretOf(got, 'der-blob').removed ? got : undefined;
      });
      expect(secretOf(w, 'der-blob')).to.include({ removed: true, currentVersion: 0, stale: false });
      const gone = await execIn(mine, { name: 'dev' }, sh(`test -e ${BLOB_PATH} && echo present || echo gone`));
      expect(gone.stdout).to.equal('gone\n');
      const events = await admin.listAuditEvents({ org: ORG, action: 'workspace.file_removed' });
      expect(events.events.map((e) => e.details)).to.deep.include({ workspace: w.id, run: '1', secret: 'der-blob', as: `file ${BLOB_PATH}` });
      const listed = await mine.listWorkspaces({ org: ORG, secretName: 'der-blob' });
      expect(listed.workspaces).to.have.length(0);
    });

    it('keeps HOME across stop and start; a start gets the current values and refuses a deleted secret', async () => {
      await execIn(mine, { name: 'dev' }, sh('echo kept > "$HOME/note.txt"'));
      const stopped = await mine.stopWorkspace({ org: ORG, name: 'dev' });
      expect(stopped).to.include({ state: Workspace_State.STATE_STOPPED, message: 'stopped by mia@acme' });
      const refused = await failure(execIn(mine, { name: 'dev' }, ['true']));
      expect(refused.code).to.equal('FAILED_PRECONDITION');
      expect(refused.message).to.include('vesslctl workspace start dev');
      // der-blob is gone: the start says so, and nothing runs.
      const notFound = await failure(mine.startWorkspace({ org: ORG, name: 'dev' }));
      expect(notFound.code).to.equal('NOT_FOUND');
      expect(notFound.message).to.include('der-blob');
      expect((await get('dev')).state).to.equal(Workspace_State.STATE_STOPPED);

      await admin.createSecret({ org: ORG, secret: { name: 'der-blob', key: 'DER_BLOB' }, value: await sys.seal(BINARY) });
      const { workspace } = await mine.startWorkspace({ org: ORG, name: 'dev' });
      expect(workspace!.run).to.equal(2);
      expect(secretOf(workspace!, 'HF_TOKEN')).to.include({ version: 2, stale: false });
      await running('dev');
      const after = await execIn(mine, { name: 'dev' }, sh('cat "$HOME/note.txt"; printf %s "$HF_TOKEN" | sha256sum | cut -c1-64'));
      expect(after.stdout.split('\n').slice(0, 2)).to.deep.equal(['kept', digestBytes(Buffer.from(TOKEN_V2))]);
      const again = await failure(mine.startWorkspace({ org: ORG, name: 'dev' }));
      expect(again.code).to.equal('FAILED_PRECONDITION');
    });

    it('records a workspace whose command ends by itself as stopped or failed, with its status', async () => {
      await mine.createWorkspace({ org: ORG, workspace: { name: 'short', image: 'x', command: 'exit 4' } });
      const ended = await until('the command to end', async () => {
        const w = await get('short');
        return w.state === Workspace_State.STATE_FAILED ? w : undefined;
      });
      expect(ended.message).to.include('4');
    });

    it('refuses a second workspace of the same name, and frees the name once deleted', async () => {
      const taken = await failure(mine.createWorkspace({ org: ORG, workspace: { name: 'dev', image: 'x' } }));
      expect(taken.code).to.equal('ALREADY_EXISTS');
      await mine.deleteWorkspace({ org: ORG, name: 'dev' });
      expect((await failure(get('dev'))).code).to.equal('NOT_FOUND');
      const { workspace } = await mine.createWorkspace({ org: ORG, workspace: { name: 'dev', image: 'x' } });
      expect(workspace!.run).to.equal(1);
      await mine.deleteWorkspace({ org: ORG, name: 'dev' });
    });

    it('reports a running workspace failed after a server restart (its processes ended with the server), and starts it again with its HOME', async () => {
      await mine.createWorkspace({ org: ORG, workspace: { name: 'survivor', image: 'x', secrets: [{ secretName: 'HF_TOKEN' }] } });
      await running('survivor');
      await execIn(mine, { name: 'survivor' }, sh('echo before-restart > "$HOME/mark"'));
      await sys.restart();
      const after = await onceReachable(() => get('survivor'));
      expect(after).to.include({ state: Workspace_State.STATE_FAILED, message: 'server restarted' });
      const { workspace } = await mine.startWorkspace({ org: ORG, name: 'survivor' });
      expect(workspace!.run).to.equal(2);
      await running('survivor');
      expect((await execIn(mine, { name: 'survivor' }, sh('cat "$HOME/mark"'))).stdout).to.equal('before-restart\n');
      await mine.deleteWorkspace({ org: ORG, name: 'survivor' });
    });

    it('leaves no value in the data dir\'s files', async () => {
      for (const needle of [PEM_V1, PEM_V2, TOKEN_V1, TOKEN_V2].map((v) => Buffer.from(v))) {
        expect(filesHolding(sys.dataDir, needle)).to.deep.equal([]);
      }
      expect(filesHolding(sys.dataDir, Buffer.from('workspace-binary-middle'))).to.deep.equal([]);
    });
  });
}
