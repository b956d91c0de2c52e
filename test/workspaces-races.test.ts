import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Workspace_State } from '../services/gen/vessl/jobs/v1/workspaces.js';
import { createLocalWorkspaceBackend, defaultWorkspaceHomeRoot } from '../services/job-launcher/workspaces/local-workspaces.js';
import type { WorkspaceBackend } from '../services/job-launcher/workspaces/workspace-backend.js';
import { hostProcessesWith } from './support/host-processes.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type SecretClient, type TestSystem, type WorkspaceClient } from './support/system.js';
import { until } from './support/until.js';

/**
 * A stop or a delete that comes while a workspace starts (the call is in, its sandbox not yet
 * up): the run the start then gets must not go on unseen, holding the workspace's values and
 * refreshed, with nothing to stop it. And a stop that takes its grace (a command that ignores
 * SIGTERM) holds back no other workspace's refresh. The real local backend, its starts held at
 * a gate the test opens, so a call surely lands in the window of a start.
 */

const ORG = 'acme';

/** The local backend whose start() waits until `open()`. */
function gatedLocalBackend(dataDir: string): { backend: WorkspaceBackend; open(): void; close(): void } {
  const inner = createLocalWorkspaceBackend({ dataDir });
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const backend: WorkspaceBackend = Object.create(inner, {
    start: {
      value: async (spec: Parameters<WorkspaceBackend['start']>[0]) => {
        await gate;
        return inner.start(spec);
      },
    },
  });
  return {
    backend,
    open: () => open(),
    close: () => {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
  };
}

for (const engine of engines()) {
  describe(`workspaces stopped or deleted mid-way (${engine.name})`, function () {
    let sys: TestSystem;
    let admin: SecretClient;
    let mine: WorkspaceClient;
    let gated: ReturnType<typeof gatedLocalBackend>;
    const backendDir = mkdtempSync(path.join(tmpdir(), 'vessl-ws-races-'));

    const get = (name: string) => mine.getWorkspace({ org: ORG, name });
    /** Creates `name` with `command`; resolves once its row exists and its start waits at the gate. */
    async function createHeld(name: string, command: string): Promise<{ id: string; created: Promise<unknown> }> {
      gated.close();
      const created = mine.createWorkspace({ org: ORG, workspace: { name, image: 'x', command, secrets: [{ secretName: 'race-key', filePath: '/run/secrets/key' }] } }).catch((err: unknown) => err);
      const w = await until(`${name} to be starting`, async () => (await mine.listWorkspaces({ org: ORG })).workspaces.find((x) => x.name === name));
      expect(w.state).to.equal(Workspace_State.STATE_STARTING);
      return { id: w.id, created };
    }

    before(async () => {
      gated = gatedLocalBackend(backendDir);
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), workspaceBackend: gated.backend, workspaceRefreshMs: 100 });
      admin = sys.secrets(await sys.token('admin'));
      mine = sys.workspaces(await sys.token('member', { subject: 'mia@acme' }));
      await admin.createSecret({ org: ORG, secret: { name: 'race-key', key: 'RACE_KEY' }, value: await sys.seal('race-key-value-v1') });
    });
    after(async () => {
      gated?.open();
      await sys?.stop();
      await engine.cleanup();
      rmSync(backendDir, { recursive: true, force: true });
    });

    it('ends the run a stopped workspace gets once its start goes through: it shows stopped, and starts again', async () => {
      const marker = 'sleep 31536001';
      const { created } = await createHeld('stopped-early', `exec ${marker}`);
      expect(await mine.stopWorkspace({ org: ORG, name: 'stopped-early' })).to.include({ state: Workspace_State.STATE_STOPPED });
      gated.open();
      await created;
      await until('its sandbox to be gone', async () => (hostProcessesWith(marker).length === 0 ? true : undefined), 5000);
      expect((await get('stopped-early')).state).to.equal(Workspace_State.STATE_STOPPED);
      const { workspace } = await mine.startWorkspace({ org: ORG, name: 'stopped-early' });
      expect(workspace).to.include({ run: 2 });
      await until('the second run to run', async () => ((await get('stopped-early')).state === Workspace_State.STATE_RUNNING ? true : undefined));
      await mine.deleteWorkspace({ org: ORG, name: 'stopped-early' });
    });

    it('leaves nothing of a workspace deleted while it starts: no process, no home, no refresh of its files', async () => {
      const marker = 'sleep 31536002';
      const { id, created } = await createHeld('deleted-early', `exec ${marker}`);
      await mine.deleteWorkspace({ org: ORG, name: 'deleted-early' });
      gated.open();
      await created;
      await until('its sandbox to be gone', async () => (hostProcessesWith(marker).length === 0 ? true : undefined), 5000);
      expect(existsSync(path.join(defaultWorkspaceHomeRoot(backendDir), id))).to.equal(false);
      expect((await failure(get('deleted-early'))).code).to.equal('NOT_FOUND');
      // A rotation once a witness runs beside it: the witness's file is refreshed, nothing is handed out for the deleted one.
      await mine.createWorkspace({ org: ORG, workspace: { name: 'witness', image: 'x', secrets: [{ secretName: 'race-key', filePath: '/run/secrets/key' }] } });
      await admin.updateSecret({ org: ORG, secret: { name: 'race-key' }, value: await sys.seal('race-key-value-v2'), updateMask: ['value'] });
      await until('the witness\'s file to be refreshed', async () => ((await get('witness')).injected[0].version === 2 ? true : undefined));
      await mine.stopWorkspace({ org: ORG, name: 'witness' });
      const refreshes = (await admin.listAuditEvents({ org: ORG, secretName: 'race-key', action: 'secret.referenced' })).events.filter((e) => e.details.workspace === id && e.details.refresh === 'true');
      expect(refreshes).to.deep.equal([]);
    });

    it('keeps refreshing other workspaces\' files while one is being stopped (its command ignores SIGTERM)', async () => {
      gated.open();
      await admin.createSecret({ org: ORG, secret: { name: 'slow-key', key: 'SLOW_KEY' }, value: await sys.seal('slow-key-value-v1') });
      await admin.createSecret({ org: ORG, secret: { name: 'other-key', key: 'OTHER_KEY' }, value: await sys.seal('other-key-value-v1') });
      const running = (name: string) => until(`${name} to run`, async () => ((await get(name)).state === Workspace_State.STATE_RUNNING ? true : undefined));
      await mine.createWorkspace({ org: ORG, workspace: { name: 'slow-stop', image: 'x', command: "trap '' TERM; exec sleep 31536003", secrets: [{ secretName: 'slow-key', filePath: '/run/secrets/key' }] } });
      await mine.createWorkspace({ org: ORG, workspace: { name: 'other', image: 'x', secrets: [{ secretName: 'other-key', filePath: '/run/secrets/key' }] } });
      await running('slow-stop');
      await running('other');
      let stopped = false;
      const stopping = mine.stopWorkspace({ org: ORG, name: 'slow-stop' }).finally(() => (stopped = true));
      await until('slow-stop to be stopping', async () => (hostProcessesWith('sleep 31536003').length > 0 && !stopped ? true : undefined));
      await admin.updateSecret({ org: ORG, secret: { name: 'slow-key' }, value: await sys.seal('slow-key-value-v2'), updateMask: ['value'] });
      await admin.updateSecret({ org: ORG, secret: { name: 'other-key' }, value: await sys.seal('other-key-value-v2'), updateMask: ['value'] });
      await until('the other workspace\'s file to be refreshed', async () => ((await get('other')).injected[0].version === 2 ? true : undefined));
      // Well before the stopped one's grace (5 s) is over.
      expect(stopped).to.equal(false);
      expect(await stopping).to.include({ state: Workspace_State.STATE_STOPPED });
      const handedOut = (await admin.listAuditEvents({ org: ORG, secretName: 'slow-key', action: 'secret.referenced' })).events.filter((e) => e.details.refresh === 'true');
      expect(handedOut, 'no value is handed out to a run being stopped').to.deep.equal([]);
    });
  });
}
