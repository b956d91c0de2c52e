import { expect } from 'chai';
import sodium from 'libsodium-wrappers';
import type { AuditEvent } from '../services/gen/vessl/secrets/v1/secrets.js';
import { codeOf, countFromEnv, onceReachable, seedFromEnv, seededRandom } from './support/chaos.js';
import { valuesAsLaunched } from './support/launch.js';
import { engines } from './support/postgres.js';
import { startTestSystem, type TestSystem } from './support/system.js';

/**
 * Concurrency: many clients race on the same few names (create, rotate, delete, jobs and
 * their restarts) while the server restarts. The final state must be one that some serial
 * order of the calls produces. The audit chain is that order: replayed, every step must be a
 * legal transition, every acknowledged write must be in it exactly once (matched by request
 * id), no refused write may be, and the state it ends in must be what the server holds.
 * VESSL_RACE_ROUNDS sets the rounds per engine, VESSL_RACE_SEED replays.
 */
const ROUNDS = countFromEnv('VESSL_RACE_ROUNDS', 3);
const SEED = seedFromEnv('VESSL_RACE_SEED');
const CLIENTS = 8;
const CALLS_PER_CLIENT = 10;
const NAMES = ['shared', 'contended'];

type Op = 'create' | 'rotate' | 'delete' | 'job';
/** How each kind of call may fail in a race; anything else is a defect. UNAVAILABLE: the restart. */
const RACE_LOSSES: Record<Op, string[]> = {
  create: ['ALREADY_EXISTS', 'UNAVAILABLE'],
  rotate: ['NOT_FOUND', 'ABORTED', 'UNAVAILABLE'],
  delete: ['NOT_FOUND', 'UNAVAILABLE'],
  job: ['NOT_FOUND', 'UNAVAILABLE'],
};
const EVENT_OF: Partial<Record<Op, string>> = { create: 'secret.created', rotate: 'secret.value_rotated', delete: 'secret.deleted' };

interface Call {
  requestId: string;
  op: Op;
  name: string;
  value?: string;
  code?: string;
  /** The version a successful create or rotate answered with. */
  version?: number;
  /** For a job: the (uid, version) its attempts got. */
  injected?: { uid: string; version: number }[];
}

for (const engine of engines()) {
  describe(`racing clients end in a state some serial order explains (${engine.name})`, function () {
    this.timeout(0);
    let sys: TestSystem;
    before(async () => {
      await sodium.ready;
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    async function race(org: string, random: () => number): Promise<Call[]> {
      const admin = await sys.token('admin', { org });
      const secrets = sys.secrets(admin);
      const jobs = sys.jobs(admin);
      const { publicKey, keyId } = await sys.kms(admin).getOrgPublicKey({ org });
      const seal = (v: string) => ({ sealedBox: Buffer.from(sodium.crypto_box_seal(Buffer.from(v), publicKey)), keyId });
      const calls: Call[] = [];
      const client = async (c: number) => {
        for (let i = 0; i < CALLS_PER_CLIENT; i++) {
          const dice = random();
          const op: Op = dice < 0.3 ? 'create' : dice < 0.65 ? 'rotate' : dice < 0.85 ? 'delete' : 'job';
          const call: Call = { requestId: `race-${org}-${c}-${i}`, op, name: NAMES[Math.floor(random() * NAMES.length)], value: `race-value-${org}-${c}-${i}` };
          calls.push(call);
          const options = { requestId: call.requestId };
          try {
            if (op === 'create') call.version = Number((await secrets.createSecret({ org, secret: { name: call.name, key: 'RACE' }, value: seal(call.value!) }, options)).version);
            else if (op === 'rotate') call.version = Number((await secrets.updateSecret({ org, secret: { name: call.name }, value: seal(call.value!), updateMask: ['value'] }, options)).version);
            else if (op === 'delete') await secrets.deleteSecret({ org, name: call.name }, options);
            else {
              const job = { name: 'race', image: 'python:3.12', command: 'true', secrets: [{ secretName: call.name, envName: 'V' }] };
              const { job: created } = await jobs.createJob({ org, job }, options);
              const restarted = await jobs.restartJob({ org, id: created!.id }).catch((err: unknown) => (codeOf(err) === 'NOT_FOUND' ? undefined : Promise.reject(err)));
              const attempts = restarted?.job?.attempts ?? created!.attempts;
              call.injected = attempts.flatMap((a) => a.secrets.map((s) => ({ uid: s.secretUid, version: Number(s.version) })));
            }
            call.code = 'OK';
          } catch (err) {
            call.code = codeOf(err);
            // The server is restarting: carry on racing once it is back.
            if (call.code === 'UNAVAILABLE') await onceReachable(() => secrets.listSecrets({ org }));
          }
        }
      };
      const restartAtRandom = async () => {
        await new Promise((r) => setTimeout(r, 50 + random() * 400));
        await sys.restart();
      };
      await Promise.all([...Array.from({ length: CLIENTS }, (_, c) => client(c)), restartAtRandom()]);
      return calls;
    }

    async function auditOf(org: string): Promise<AuditEvent[]> {
      const secrets = sys.secrets(await sys.token('admin', { org }));
      const events: AuditEvent[] = [];
      let pageToken = '';
      do {
        const page = await secrets.listAuditEvents({ org, pageSize: 500, pageToken });
        events.push(...page.events);
        pageToken = page.nextPageToken;
      } while (pageToken);
      return events.sort((a, b) => Number(a.seq) - Number(b.seq));
    }

    it(`${ROUNDS} rounds of ${CLIENTS} clients x ${CALLS_PER_CLIENT} calls on ${NAMES.length} names with a server restart (seed ${SEED})`, async () => {
      const random = seededRandom(SEED);
      const outcomes = new Map<string, number>();
      for (let round = 0; round < ROUNDS; round++) {
        const org = `race-${SEED.toString(36)}-${round}`;
        const calls = await race(org, random);
        for (const c of calls) outcomes.set(`${c.op} ${c.code}`, (outcomes.get(`${c.op} ${c.code}`) ?? 0) + 1);
        const byRequest = new Map(calls.map((c) => [c.requestId, c]));
        const where = `round ${round} (seed ${SEED})`;
        for (const c of calls) if (c.code !== 'OK') expect(RACE_LOSSES[c.op], `${c.op} ${c.name} failed with ${c.code}, ${where}`).to.include(c.code);

        // Replay the audit chain: every step legal, every step one of our calls.
        const state = new Map<string, { uid: string; version: number; value: string } | undefined>();
        const history = new Set<string>();
        const applied = new Set<string>();
        for (const e of await auditOf(org)) {
          const op = (Object.keys(EVENT_OF) as Op[]).find((o) => EVENT_OF[o] === e.action);
          if (!op) continue;
          const call = byRequest.get(e.requestId);
          expect(call, `${e.action} of ${e.secretName} by no call of ours (${e.requestId}), ${where}`).to.not.equal(undefined);
          expect([call!.op, call!.name], where).to.deep.equal([op, e.secretName]);
          expect(applied.has(e.requestId), `${e.requestId} applied twice, ${where}`).to.equal(false);
          applied.add(e.requestId);
          const was = state.get(e.secretName);
          const version = Number(e.secretVersion);
          if (op === 'create') {
            expect(was, `a second live ${e.secretName}, ${where}`).to.equal(undefined);
            expect(version).to.equal(1);
            state.set(e.secretName, { uid: e.secretUid, version, value: call!.value! });
          } else {
            expect(was?.uid, `${op} of a secret that is not live, ${where}`).to.equal(e.secretUid);
            if (op === 'rotate') {
              expect(version, `versions without a gap, ${where}`).to.equal(was!.version + 1);
              state.set(e.secretName, { uid: e.secretUid, version, value: call!.value! });
            } else state.set(e.secretName, undefined);
          }
          if (call!.version !== undefined) expect(call!.version, `the answer matches the serial position, ${where}`).to.equal(version);
          history.add(`${e.secretUid}@${version}`);
        }
        for (const c of calls.filter((c) => EVENT_OF[c.op])) {
          if (c.code === 'OK') expect(applied.has(c.requestId), `acknowledged ${c.op} ${c.requestId} is not in the audit chain, ${where}`).to.equal(true);
          else if (c.code !== 'UNAVAILABLE') expect(applied.has(c.requestId), `refused ${c.op} ${c.requestId} took effect, ${where}`).to.equal(false);
        }
        for (const c of calls.filter((c) => c.injected)) for (const i of c.injected!) expect(history.has(`${i.uid}@${i.version}`), `a job got ${i.uid}@${i.version}, never written, ${where}`).to.equal(true);

        // The server holds what the replay ends in.
        const admin = sys.secrets(await sys.token('admin', { org }));
        const live = (await admin.listSecrets({ org, pageSize: 1000 })).secrets;
        expect(new Set(live.map((s) => s.name)).size, `one live secret per name, ${where}`).to.equal(live.length);
        const expected = [...state].filter(([, s]) => s).map(([n, s]) => ({ name: n, uid: s!.uid, version: s!.version }));
        expect(live.map((s) => ({ name: s.name, uid: s.uid, version: Number(s.version) })).sort((a, b) => a.name.localeCompare(b.name))).to.deep.equal(expected.sort((a, b) => a.name.localeCompare(b.name)));
        const values = await valuesAsLaunched(sys.endpoint, await sys.token('service'), org, expected.map((e) => e.name));
        expect(values.map(String), `values, ${where}`).to.deep.equal(expected.map((e) => state.get(e.name)!.value));
        const audit = await admin.verifyAuditLog({ org });
        expect(audit.intact, audit.problem).to.equal(true);
      }
      const tally = [...outcomes].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
      console.log(`      ${engine.name}: ${ROUNDS} races, ${ROUNDS * CLIENTS * CALLS_PER_CLIENT} racing calls, each explained by a serial order (${tally})`);
    });
  });
}
