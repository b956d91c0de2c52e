import { expect } from 'chai';
import { Workspace_State } from '../services/gen/vessl/jobs/v1/workspaces.js';
import { MAX_SECRETS_PER_LOOKUP } from '../services/secret-store/rules.js';
import { engines } from './support/postgres.js';
import { startTestSystem, type SecretClient, type TestSystem, type WorkspaceClient } from './support/system.js';
import { until } from './support/until.js';

/**
 * An org whose running workspaces mount more secrets as files than the secret-store looks up
 * in one call: their files are still kept current (a deleted secret's removed), and the org's
 * workspaces still list with their secrets' versions.
 */

const ORG = 'acme';
const PER_WORKSPACE = 64;
const SECRETS = MAX_SECRETS_PER_LOOKUP + 1;
const nameOf = (i: number) => `file-${String(i).padStart(3, '0')}`;

for (const engine of engines()) {
  describe(`workspaces mounting more secrets than one lookup takes (${engine.name})`, function () {
    let sys: TestSystem;
    let admin: SecretClient;
    let mine: WorkspaceClient;

    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), workspaceRefreshMs: 100 });
      admin = sys.secrets(await sys.token('admin'));
      mine = sys.workspaces(await sys.token('member', { subject: 'mia@acme' }));
      for (let i = 0; i < SECRETS; i++) await admin.createSecret({ org: ORG, secret: { name: nameOf(i), key: 'K' }, value: await sys.seal(`value-of-${nameOf(i)}`) });
      for (let first = 0, w = 0; first < SECRETS; first += PER_WORKSPACE, w++) {
        const secrets = Array.from({ length: Math.min(PER_WORKSPACE, SECRETS - first) }, (_, i) => ({ secretName: nameOf(first + i), filePath: `/run/secrets/${nameOf(first + i)}` }));
        await mine.createWorkspace({ org: ORG, workspace: { name: `many-${w}`, image: 'x', secrets } });
      }
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('lists the org\'s workspaces with their secrets\' current versions', async () => {
      const { workspaces } = await mine.listWorkspaces({ org: ORG });
      expect(workspaces.flatMap((w) => w.injected).map((s) => s.currentVersion)).to.deep.equal(new Array(SECRETS).fill(1));
    });

    it('removes a deleted secret\'s file from the running workspace that holds the last one', async () => {
      const last = nameOf(SECRETS - 1);
      await admin.deleteSecret({ org: ORG, name: last });
      const holder = `many-${Math.floor((SECRETS - 1) / PER_WORKSPACE)}`;
      const w = await until('the file to be removed', async () => {
        const got = await mine.getWorkspace({ org: ORG, name: holder });
        return got.injected.find((s) => s.secretName === last)?.removed ? got : undefined;
      });
      expect(w.state).to.equal(Workspace_State.STATE_RUNNING);
    });
  });
}
