import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import { JobServiceService, Job_State } from '../services/gen/vessl/jobs/v1/jobs.js';
import { KeyManagementServiceService } from '../services/gen/vessl/kms/v1/kms.js';
import { SecretServiceService } from '../services/gen/vessl/secrets/v1/secrets.js';
import { EMBEDDED_TOKEN_SETTINGS, loadIssuerKeys, mintToken } from '../services/runtime/auth.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { codeOf, countFromEnv, digest, envDigests, jobEnded, PRINT_ENV_DIGESTS, seedFromEnv, seededRandom } from './support/chaos.js';
import { valuesAsLaunched } from './support/launch.js';
import { filesUnder, hits, postgresRows } from './support/plaintext.js';
import { engines } from './support/postgres.js';
import { startServerProcess, type ServerProcess } from './support/processes.js';

/**
 * Crash chaos: a random workload (creates, rotations, deletes, job launches, master-key
 * rotations with rewraps) runs while the all-in-one server process is killed with SIGKILL at
 * a random moment and restarted on the same data. After every restart: every acknowledged
 * write is there, every live secret reaches a real job intact, the audit chain verifies, no
 * plaintext is at rest, and a cut-off rewrap finishes. VESSL_CRASH_KILLS sets the kills per
 * engine, VESSL_CRASH_SEED replays.
 */
const KILLS = countFromEnv('VESSL_CRASH_KILLS', 3);
const SEED = seedFromEnv('VESSL_CRASH_SEED');
const WORKERS = 4;
const NAMES_PER_WORKER = 3;
const ORG = 'default';
/** Calls cut off by the kill fail with one of these (a reset stream reads as INTERNAL); any other failure is a defect. */
const CUT_OFF = new Set(['UNAVAILABLE', 'CANCELLED', 'DEADLINE_EXCEEDED', 'INTERNAL']);

/** What a name holds: absent/deleted, or live at a version with a value. */
interface NameState {
  live: boolean;
  version: number;
  value: string;
}
const same = (a: NameState, b: NameState) => a.live === b.live && (!a.live || (a.version === b.version && a.value === b.value));

for (const engine of engines()) {
  describe(`crash chaos: SIGKILL during a random workload loses nothing (${engine.name})`, function () {
    this.timeout(0);
    let dataDir: string;
    let env: NodeJS.ProcessEnv;
    let server: ServerProcess | undefined;
    let databaseUrl: string | undefined;

    before(async () => {
      await sodium.ready;
      dataDir = mkdtempSync(path.join(tmpdir(), 'vessl-crash-chaos-'));
      databaseUrl = await engine.freshUrl();
      env = { VESSL_DATA_DIR: dataDir, VESSL_DATABASE_URL: databaseUrl ?? '', VESSL_LOG_LEVEL: 'warn' };
    });
    after(async () => {
      await server?.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      await engine.cleanup();
    });

    async function connect(endpoint: string) {
      const issuer = await loadIssuerKeys(dataDir, false);
      const mint = (role: 'admin' | 'operator' | 'service') =>
        mintToken(issuer.privateKey, { role, org: role === 'service' ? '' : ORG, subject: role === 'service' ? 'svc:job-launcher' : `chaos-${role}`, ttlSeconds: 3600, settings: EMBEDDED_TOKEN_SETTINGS });
      const admin = await mint('admin');
      const operator = await mint('operator');
      const as = (token: string) => ({ token: async () => token, defaultTimeoutMs: 20_000 });
      const c = {
        secrets: createServiceClient(SecretServiceService, endpoint, as(admin)),
        kms: createServiceClient(KeyManagementServiceService, endpoint, as(admin)),
        jobs: createServiceClient(JobServiceService, endpoint, as(admin)),
        opSecrets: createServiceClient(SecretServiceService, endpoint, as(operator)),
        opKms: createServiceClient(KeyManagementServiceService, endpoint, as(operator)),
        serviceToken: await mint('service'),
        close: () => [c.secrets, c.kms, c.jobs, c.opSecrets, c.opKms].forEach((x) => x.close()),
      };
      return c;
    }
    type Clients = Awaited<ReturnType<typeof connect>>;

    /** Rewraps everything under the primary KEK to the end; afterwards no older KEK wraps anything. */
    async function rewrapToTheEnd(c: Clients): Promise<void> {
      let last;
      for await (const p of c.opSecrets.rewrapSecrets({ batchSize: 20 })) last = p;
      expect(last?.done, 'the rewrap finishes').to.equal(true);
      const keys = (await c.opKms.listMasterKeys({})).keys;
      const primary = Math.max(...keys.map((k) => k.version));
      for (const k of keys.filter((k) => k.version !== primary)) expect({ v: k.version, data: k.wrappedDataKeys, org: k.wrappedOrgKeys }).to.deep.equal({ v: k.version, data: 0, org: 0 });
    }

    it(`survives ${KILLS} SIGKILLs at random moments with every acknowledged write intact (seed ${SEED})`, async () => {
      const random = seededRandom(SEED);
      const names = Array.from({ length: WORKERS * NAMES_PER_WORKER }, (_, i) => `chaos-${i}`);
      /** Acknowledged state per name, and for a name whose last call was cut off, the state it would have made. */
      const acked = new Map(names.map((n) => [n, { live: false, version: 0, value: '' } as NameState]));
      const pending = new Map<string, NameState>();
      const everyValue: string[] = [];
      let serial = 0;
      let killsSurvived = 0;
      let acknowledged = 0;
      let rewrapsCutOff = 0;

      for (let round = 0; round <= KILLS; round++) {
        server = await startServerProcess(env);
        const c = await connect(server.endpoint);

        // 1. Recovery: each cut-off call either happened entirely or not at all.
        const live = new Map((await c.secrets.listSecrets({ org: ORG, pageSize: 1000 })).secrets.map((s) => [s.name, Number(s.version)]));
        const liveNames = [...live.keys()].filter((n) => acked.has(n));
        const values = new Map((await valuesAsLaunched(server.endpoint, c.serviceToken, ORG, liveNames)).map((v, i) => [liveNames[i], v.toString('utf8')]));
        for (const n of names) {
          const seen: NameState = { live: live.has(n), version: live.get(n) ?? 0, value: values.get(n) ?? '' };
          const allowed = [acked.get(n)!, ...(pending.has(n) ? [pending.get(n)!] : [])];
          expect(allowed.some((a) => same(a, seen)), `${n} after kill ${round}: saw ${JSON.stringify(seen)}, acknowledged ${JSON.stringify(allowed)} (seed ${SEED})`).to.equal(true);
          acked.set(n, seen);
        }
        pending.clear();
        // 2. A cut-off rewrap (or master-key rotation) finishes.
        await rewrapToTheEnd(c);
        // 3. Every live secret reaches a real job intact.
        const liveNow = names.filter((n) => acked.get(n)!.live);
        if (liveNow.length > 0) {
          const { job } = await c.jobs.createJob({ org: ORG, job: { name: 'chaos-check', image: 'python:3.12', command: PRINT_ENV_DIGESTS, secrets: liveNow.map((n, i) => ({ secretName: n, envName: `CHAOS_${i}` })) } });
          expect(await jobEnded(c.jobs, ORG, job!.id)).to.equal(Job_State.STATE_SUCCEEDED);
          const seen = envDigests(dataDir, job!.id);
          liveNow.forEach((n, i) => expect(seen.get(`CHAOS_${i}`), n).to.equal(digest(acked.get(n)!.value)));
        }
        // 4. The audit chain verifies.
        const audit = await c.secrets.verifyAuditLog({ org: ORG });
        expect(audit.intact, audit.problem).to.equal(true);
        if (round === KILLS) {
          c.close();
          break;
        }

        // 5. The workload, with a kill at a random moment.
        const { publicKey, keyId } = await c.kms.getOrgPublicKey({ org: ORG });
        const seal = (value: string) => ({ sealedBox: Buffer.from(sodium.crypto_box_seal(Buffer.from(value), publicKey)), keyId });
        let killed = false;
        const worker = async (mine: string[]) => {
          while (!killed) {
            const name = mine[Math.floor(random() * mine.length)];
            const was = acked.get(name)!;
            const value = `chaos-value-${SEED}-${++serial}-${Math.floor(random() * 1e9).toString(36)}`;
            const dice = random();
            let next: NameState;
            let call: Promise<unknown>;
            const rewrapping = dice < 0.05;
            if (rewrapping) {
              call = (async () => {
                await c.opKms.rotateMasterKey({});
                for await (const p of c.opSecrets.rewrapSecrets({ batchSize: 5 })) void p;
              })();
              next = was;
            } else if (dice < 0.15 && was.live) {
              call = c.jobs.createJob({ org: ORG, job: { name: 'chaos', image: 'python:3.12', command: PRINT_ENV_DIGESTS, secrets: [{ secretName: name, envName: 'V' }] } });
              next = was;
            } else if (!was.live) {
              everyValue.push(value);
              call = c.secrets.createSecret({ org: ORG, secret: { name, key: 'CHAOS' }, value: seal(value) });
              next = { live: true, version: 1, value };
            } else if (dice < 0.7) {
              everyValue.push(value);
              call = c.secrets.updateSecret({ org: ORG, secret: { name }, value: seal(value), updateMask: ['value'] });
              next = { live: true, version: was.version + 1, value };
            } else {
              call = c.secrets.deleteSecret({ org: ORG, name });
              next = { live: false, version: 0, value: '' };
            }
            pending.set(name, next);
            try {
              await call;
              acked.set(name, next);
              pending.delete(name);
              acknowledged++;
            } catch (err) {
              expect(killed, `${codeOf(err)} before the kill: ${(err as Error).message}`).to.equal(true);
              expect(CUT_OFF.has(codeOf(err)), `a call cut off by the kill failed with ${codeOf(err)}`).to.equal(true);
              if (rewrapping) rewrapsCutOff++;
              return;
            }
          }
        };
        const workers = Array.from({ length: WORKERS }, (_, w) => worker(names.slice(w * NAMES_PER_WORKER, (w + 1) * NAMES_PER_WORKER)));
        await new Promise((r) => setTimeout(r, 150 + random() * 1500));
        killed = true;
        await server.stop('SIGKILL');
        await Promise.all(workers);
        c.close();
        killsSurvived++;
      }

      // No plaintext at rest: every value ever sent, in every stored byte.
      const stored: { where: string; bytes: Buffer }[] = filesUnder(dataDir).map((f) => ({ where: path.relative(dataDir, f), bytes: readFileSync(f) }));
      if (databaseUrl) stored.push(...(await postgresRows(databaseUrl)));
      expect(hits(stored, everyValue)).to.deep.equal([]);
      expect(killsSurvived).to.equal(KILLS);
      console.log(`      ${engine.name}: ${killsSurvived} kills survived, ${acknowledged} acknowledged calls checked, ${rewrapsCutOff} master-key rotations/rewraps cut off and finished, ${everyValue.length} values scanned for at rest`);
    });
  });
}
