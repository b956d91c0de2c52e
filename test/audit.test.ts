import { expect } from 'chai';
import { VerifyAuditLogResponse_Finding as Finding, type AuditEvent } from '../services/gen/vessl/secrets/v1/secrets.js';
import { auditHash, GENESIS_HASH, fromAuditRecord, type AuditRecord } from '../services/secret-store/audit.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type SecretClient, type TestSystem } from './support/system.js';

// The audit log over gRPC (DESIGN §3, §4): what each operation records, listing, the hash
// chain's verification against tampering in the database, and who may read or append.

type Knex = ReturnType<TestSystem['db']>;

/** What a test asserts about an event: its identity, not its hashes or time. */
interface Expected {
  action: string;
  actor: string;
  requestId?: string;
  secretName?: string;
  secretVersion?: number;
  details?: Record<string, string>;
}

function expectEvent(event: AuditEvent, want: Expected): void {
  const { details, ...fields } = want;
  expect(event).to.include(fields);
  if (details) expect(event.details).to.include(details);
  expect(event.time).to.be.instanceOf(Date);
  expect(event.hash).to.match(/^[0-9a-f]{64}$/);
}

for (const engine of engines()) {
  describe(`audit log (${engine.name})`, function () {
    let sys: TestSystem;
    let orgCounter = 0;
    const freshOrg = () => `audit-${++orgCounter}`;
    const adminSubject = (org: string) => `ada@${org}`;
    const admin = async (org: string) => sys.secrets(await sys.token('admin', { org, subject: adminSubject(org) }));
    const member = async (org: string) => sys.secrets(await sys.token('member', { org, subject: `mia@${org}` }));
    /** Operators act platform-wide: their token's org claim is not the org they audit. */
    const operator = async () => sys.secrets(await sys.token('operator', { org: 'platform', subject: 'otto@platform' }));
    const service = async (name: string) => sys.secrets(await sys.token('service', { subject: `svc:${name}` }));
    const db = (): Knex => sys.db('secret-store');

    /** Every event of the org, oldest first, through the API (page by page). */
    async function allEvents(client: SecretClient, org: string, filter: { action?: string; secretName?: string; actor?: string } = {}): Promise<AuditEvent[]> {
      const events: AuditEvent[] = [];
      let pageToken = '';
      do {
        const page = await client.listAuditEvents({ org, pageSize: 1000, pageToken, ...filter });
        events.push(...page.events);
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return events;
    }

    /** An org whose chain holds `n` secret.created events (S1..Sn). */
    async function orgWithEvents(n: number): Promise<{ org: string; client: SecretClient }> {
      const org = freshOrg();
      const client = await admin(org);
      const sealed = await sys.seal('value', org);
      for (let i = 1; i <= n; i++) await client.createSecret({ org, secret: { name: `S${i}` }, value: sealed });
      return { org, client };
    }

    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl() });
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    describe('what each operation records', () => {
      const org = 'audit-ops';
      let client: SecretClient;
      let seen = 0;

      /** The events appended since the last call. */
      async function newEvents(): Promise<AuditEvent[]> {
        const page = await client.listAuditEvents({ org, pageSize: 1000 });
        const fresh = page.events.filter((e) => e.seq > seen);
        seen = page.events.length === 0 ? 0 : page.events[page.events.length - 1].seq;
        return fresh;
      }

      before(async () => {
        client = await admin(org);
      });

      it('create → secret.created, with actor, request id, name and version', async () => {
        await client.createSecret({ org, secret: { name: 'HF', key: 'HF_TOKEN' }, value: await sys.seal('v1', org) }, { requestId: 'req-create-0001' });
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], { action: 'secret.created', actor: adminSubject(org), requestId: 'req-create-0001', secretName: 'HF', secretVersion: 1, details: { key: 'HF_TOKEN' } });
        expect(events[0].secretUid).to.match(/^s_/);
      });

      it('a value update → secret.value_rotated, naming the new and previous version', async () => {
        await client.updateSecret({ org, secret: { name: 'HF' }, value: await sys.seal('v2', org), updateMask: ['value'] }, { requestId: 'req-rotate-0001' });
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], { action: 'secret.value_rotated', actor: adminSubject(org), requestId: 'req-rotate-0001', secretName: 'HF', secretVersion: 2, details: { previousVersion: '1' } });
      });

      it('a key rename → secret.key_renamed, from and to', async () => {
        await client.updateSecret({ org, secret: { name: 'HF', key: 'HUB_TOKEN' }, updateMask: ['key'] }, { requestId: 'req-rename-0001' });
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], { action: 'secret.key_renamed', actor: adminSubject(org), requestId: 'req-rename-0001', secretName: 'HF', details: { from: 'HF_TOKEN', to: 'HUB_TOKEN' } });
      });

      it('a description edit → secret.description_edited (the text is not copied into the log)', async () => {
        await client.updateSecret({ org, secret: { name: 'HF', description: 'the hub token' }, updateMask: ['description'] }, { requestId: 'req-describe-01' });
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], { action: 'secret.description_edited', actor: adminSubject(org), requestId: 'req-describe-01', secretName: 'HF' });
        expect(JSON.stringify(events[0].details)).to.not.include('the hub token');
      });

      it('a job launch → secret.referenced, with the job id, attempt and version handed out', async () => {
        const jobs = sys.jobs(await sys.token('member', { org, subject: `mia@${org}` }));
        const { job } = await jobs.createJob({ org, job: { name: 'train', image: 'x', command: 'true', secrets: [{ secretName: 'HF' }] } }, { requestId: 'req-launch-0001' });
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], {
          action: 'secret.referenced',
          actor: `mia@${org}`,
          requestId: 'req-launch-0001',
          secretName: 'HF',
          secretVersion: 2,
          details: { job: job!.id, attempt: '1', via: 'svc:job-launcher' },
        });
      });

      it('a launch audits only the secrets it injects, and a refused launch nothing', async () => {
        await client.createSecret({ org, secret: { name: 'WANDB', key: 'WANDB_API_KEY' }, value: await sys.seal('wandb-value', org) });
        await newEvents();
        const jobs = sys.jobs(await sys.token('member', { org, subject: `mia@${org}` }));
        const job = (secrets: { secretName: string; envName?: string }[], env: { name: string; value: string }[] = []) => ({
          org,
          job: { name: 'train', image: 'x', command: 'true', env, secrets: secrets.map((s) => ({ envName: '', ...s })) },
        });
        // A plain variable wins over WANDB: only HF is handed out.
        const { job: launched, warnings } = await jobs.createJob(job([{ secretName: 'HF' }, { secretName: 'WANDB' }], [{ name: 'WANDB_API_KEY', value: 'offline' }]));
        expect(warnings.join('\n')).to.match(/--env WANDB_API_KEY overrides secret "WANDB"/);
        const events = await newEvents();
        expect(events.map((e) => [e.action, e.secretName])).to.deep.equal([['secret.referenced', 'HF']]);
        expect(events[0].details).to.include({ job: launched!.id });
        // Two secrets on one variable, or one unknown: refused before anything is handed out.
        for (const refused of [
          job([{ secretName: 'HF', envName: 'X' }, { secretName: 'WANDB', envName: 'X' }]),
          job([{ secretName: 'HF', envName: 'WANDB_API_KEY' }, { secretName: 'WANDB' }]),
          job([{ secretName: 'HF' }, { secretName: 'NOPE' }]),
        ]) {
          const got = await failure(jobs.createJob(refused));
          expect(got.code, got.message).to.be.oneOf(['INVALID_ARGUMENT', 'NOT_FOUND']);
          expect(await newEvents()).to.deep.equal([]);
        }
      });

      it('a delete → secret.deleted', async () => {
        await client.deleteSecret({ org, name: 'HF' }, { requestId: 'req-delete-0001' });
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], { action: 'secret.deleted', actor: adminSubject(org), requestId: 'req-delete-0001', secretName: 'HF', secretVersion: 2 });
      });

      it('a denied call → call.denied, with the method and role, and nothing else', async () => {
        const refused = await failure((await member(org)).createSecret({ org, secret: { name: 'NOPE' }, value: await sys.seal('x', org) }, { requestId: 'req-denied-0001' }));
        expect(refused.code).to.equal('PERMISSION_DENIED');
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], { action: 'call.denied', actor: `mia@${org}`, requestId: 'req-denied-0001', secretName: '', details: { method: 'CreateSecret', role: 'member' } });
      });

      it('a refused audit read is itself audited', async () => {
        expect((await failure((await member(org)).listAuditEvents({ org }, { requestId: 'req-denied-0002' }))).code).to.equal('PERMISSION_DENIED');
        const events = await newEvents();
        expect(events).to.have.length(1);
        expectEvent(events[0], { action: 'call.denied', actor: `mia@${org}`, requestId: 'req-denied-0002', details: { method: 'ListAuditEvents' } });
      });

      it('numbers the events 1, 2, 3, … and verifies the chain intact', async () => {
        const events = await allEvents(client, org);
        expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, i) => i + 1));
        expect(events.every((e) => e.org === org)).to.equal(true);
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: events.length, firstBadSeq: 0, problem: '' });
      });
    });

    describe('listing', () => {
      let org: string;
      let client: SecretClient;
      before(async () => {
        ({ org, client } = await orgWithEvents(5));
        await client.updateSecret({ org, secret: { name: 'S2' }, value: await sys.seal('next', org), updateMask: ['value'] });
        await client.deleteSecret({ org, name: 'S2' });
        await failure((await member(org)).deleteSecret({ org, name: 'S1' }));
      });

      it('lists oldest first, by default up to 100', async () => {
        const page = await client.listAuditEvents({ org });
        expect(page.events.map((e) => e.action)).to.deep.equal([
          ...Array(5).fill('secret.created'),
          'secret.value_rotated',
          'secret.deleted',
          'call.denied',
        ]);
        expect(page.nextPageToken).to.equal('');
      });

      it('filters by action, secret and actor (and combinations)', async () => {
        expect((await allEvents(client, org, { action: 'secret.created' })).map((e) => e.secretName)).to.deep.equal(['S1', 'S2', 'S3', 'S4', 'S5']);
        expect((await allEvents(client, org, { secretName: 'S2' })).map((e) => e.action)).to.deep.equal(['secret.created', 'secret.value_rotated', 'secret.deleted']);
        expect((await allEvents(client, org, { actor: `mia@${org}` })).map((e) => e.action)).to.deep.equal(['call.denied']);
        expect((await allEvents(client, org, { secretName: 'S2', action: 'secret.deleted', actor: adminSubject(org) })).map((e) => e.seq)).to.deep.equal([7]);
        expect(await allEvents(client, org, { action: 'org_key.rotated' })).to.deep.equal([]);
      });

      it('pages with page tokens, each page after the last', async () => {
        const seqs: number[] = [];
        const sizes: number[] = [];
        let pageToken = '';
        do {
          const page = await client.listAuditEvents({ org, pageSize: 3, pageToken });
          seqs.push(...page.events.map((e) => e.seq));
          sizes.push(page.events.length);
          pageToken = page.nextPageToken;
        } while (pageToken !== '');
        expect(seqs).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
        expect(sizes).to.deep.equal([3, 3, 2]);
      });

      it('pages a filtered listing', async () => {
        const first = await client.listAuditEvents({ org, pageSize: 2, action: 'secret.created' });
        expect(first.events.map((e) => e.secretName)).to.deep.equal(['S1', 'S2']);
        const second = await client.listAuditEvents({ org, pageSize: 2, action: 'secret.created', pageToken: first.nextPageToken });
        expect(second.events.map((e) => e.secretName)).to.deep.equal(['S3', 'S4']);
      });

      it('refuses a page token from another listing (other filters, other org)', async () => {
        const { nextPageToken } = await client.listAuditEvents({ org, pageSize: 2 });
        const otherFilter = await failure(client.listAuditEvents({ org, pageSize: 2, action: 'secret.created', pageToken: nextPageToken }));
        expect(otherFilter).to.include({ code: 'INVALID_ARGUMENT' });
        expect(otherFilter.fields).to.deep.equal(['page_token']);
        const ops = await operator();
        const otherOrg = await failure(ops.listAuditEvents({ org: 'audit-ops', pageSize: 2, pageToken: nextPageToken }));
        expect(otherOrg.fields).to.deep.equal(['page_token']);
      });

      it('caps a page at 1000 events', async () => {
        const page = await client.listAuditEvents({ org, pageSize: 100_000 });
        expect(page.events).to.have.length(8);
      });
    });

    describe('verification names the first bad event after tampering in the database', () => {
      // Each case on a fresh org's chain of 6 events (S1..S6 created).
      /** Rewrites every event from `from` on with an unkeyed sha256 hash, and the head: all a forger without the key can do. */
      async function recomputeFrom(knex: Knex, org: string, from: number): Promise<void> {
        const rows: AuditRecord[] = await knex('secret_audit_events').where({ org }).orderBy('seq');
        let prevHash = from === 1 ? GENESIS_HASH : rows[from - 2].hash;
        for (const row of rows.slice(from - 1)) {
          const e = fromAuditRecord(row);
          const hash = auditHash(prevHash, e.seq, e);
          await knex('secret_audit_events').where({ org, seq: e.seq }).update({ prev_hash: prevHash, hash });
          prevHash = hash;
        }
        await knex('secret_audit_heads').where({ org }).update({ hash: prevHash });
      }

      const cases: Array<{ name: string; tamper(knex: Knex, org: string): Promise<unknown>; seq: number; problem: RegExp; finding?: Finding; missingAfterSeq?: number; events?: number }> = [
        {
          name: 'an event\'s actor updated',
          tamper: (knex, org) => knex('secret_audit_events').where({ org, seq: 3 }).update({ actor: 'mallory' }),
          seq: 3,
          problem: /^event 3 was altered \(its hash does not match its contents\)$/,
          finding: Finding.FINDING_ALTERED,
        },
        {
          name: 'an event\'s details updated',
          tamper: (knex, org) => knex('secret_audit_events').where({ org, seq: 2 }).update({ details: JSON.stringify({ key: 'OTHER' }) }),
          seq: 2,
          problem: /^event 2 was altered/,
        },
        {
          name: 'a middle event deleted',
          tamper: (knex, org) => knex('secret_audit_events').where({ org, seq: 4 }).delete(),
          seq: 4,
          problem: /^event 4 is missing \(the chain jumps from 3 to 5\)$/,
        },
        {
          name: 'the last event deleted (a cut tail)',
          tamper: (knex, org) => knex('secret_audit_events').where({ org, seq: 6 }).delete(),
          seq: 6,
          problem: /^events after 5 are missing: the chain ends at 5, its signed checkpoint of \S+ records 6$/,
          finding: Finding.FINDING_TAIL_MISSING,
          missingAfterSeq: 5,
          events: 5,
        },
        {
          name: 'the last two events deleted and the head rolled back to match',
          tamper: async (knex, org) => {
            const fourth = await knex('secret_audit_events').where({ org, seq: 4 }).first();
            await knex('secret_audit_events').where({ org }).andWhere('seq', '>', 4).delete();
            await knex('secret_audit_heads').where({ org }).update({ seq: 4, hash: fourth.hash });
          },
          seq: 5,
          problem: /^events after 4 are missing: the chain ends at 4, its signed checkpoint of \S+ records 6$/,
          finding: Finding.FINDING_TAIL_MISSING,
          missingAfterSeq: 4,
          events: 4,
        },
        {
          name: 'the head rolled back over events still there',
          tamper: async (knex, org) => {
            const fourth = await knex('secret_audit_events').where({ org, seq: 4 }).first();
            await knex('secret_audit_heads').where({ org }).update({ seq: 4, hash: fourth.hash });
          },
          seq: 5,
          problem: /^event 5 is not recorded in the head: the head records 4$/,
          finding: Finding.FINDING_MISLINKED,
        },
        {
          name: 'an event edited and the chain after it recomputed (unkeyed, as a forger without the key must)',
          tamper: async (knex, org) => {
            await knex('secret_audit_events').where({ org, seq: 3 }).update({ actor: 'mallory' });
            await recomputeFrom(knex, org, 3);
          },
          seq: 3,
          problem: /^event 3 was altered \(its hash does not match its contents\)$/,
          finding: Finding.FINDING_ALTERED,
        },
        {
          name: 'the whole chain downgraded to unkeyed hashes (keyed_from cleared) and recomputed',
          tamper: async (knex, org) => {
            await knex('secret_audit_events').where({ org, seq: 3 }).update({ actor: 'mallory' });
            await knex('secret_audit_heads').where({ org }).update({ keyed_from: null });
            await recomputeFrom(knex, org, 1);
          },
          seq: 1,
          problem: /^event 1 was altered/,
          finding: Finding.FINDING_ALTERED,
        },
        {
          name: 'an edited event given the link of another event',
          tamper: async (knex, org) => {
            const fifth = await knex('secret_audit_events').where({ org, seq: 5 }).first();
            await knex('secret_audit_events').where({ org, seq: 2 }).update({ actor: 'mallory', hash: fifth.hash });
          },
          seq: 2,
          problem: /^event 2 was altered/,
          finding: Finding.FINDING_ALTERED,
        },
        {
          name: 'the seqs of two events swapped',
          tamper: async (knex, org) => {
            // Through a free seq: (org, seq) is unique.
            await knex('secret_audit_events').where({ org, seq: 2 }).update({ seq: -1 });
            await knex('secret_audit_events').where({ org, seq: 3 }).update({ seq: 2 });
            await knex('secret_audit_events').where({ org, seq: -1 }).update({ seq: 3 });
          },
          seq: 2,
          problem: /^events 2 and 3 are out of order$/,
        },
        {
          name: 'a prev_hash changed',
          tamper: async (knex, org) => {
            const first = await knex('secret_audit_events').where({ org, seq: 1 }).first();
            await knex('secret_audit_events').where({ org, seq: 5 }).update({ prev_hash: first.hash });
          },
          seq: 5,
          problem: /^event 5 does not follow event 4 \(prev_hash mismatch\)$/,
        },
      ];

      for (const c of cases) {
        it(`${c.name} → first bad event ${c.seq}`, async () => {
          const { org, client } = await orgWithEvents(6);
          expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 6, firstBadSeq: 0, problem: '' });
          await c.tamper(db(), org);
          const result = await client.verifyAuditLog({ org });
          expect(result).to.include({ intact: false, firstBadSeq: c.seq, checkpointSeq: 6 });
          expect(result.problem).to.match(c.problem);
          if (c.finding !== undefined) expect(result.finding).to.equal(c.finding);
          expect(result.missingAfterSeq).to.equal(c.missingAfterSeq ?? 0);
          if (c.events !== undefined) expect(result.events).to.equal(c.events);
        });
      }

      it('cannot launder a cut: events appended after it are never anchored, and the cut stays named', async () => {
        const { org, client } = await orgWithEvents(6);
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, checkpointSeq: 6 });
        const fourth = await db()('secret_audit_events').where({ org, seq: 4 }).first();
        await db()('secret_audit_events').where({ org }).andWhere('seq', '>', 4).delete();
        await db()('secret_audit_heads').where({ org }).update({ seq: 4, hash: fourth.hash });
        // Business goes on: three new events are linked on the rolled-back head (5, 6, 7).
        const sealed = await sys.seal('value', org);
        for (const name of ['N1', 'N2', 'N3']) await client.createSecret({ org, secret: { name }, value: sealed });
        const result = await client.verifyAuditLog({ org });
        expect(result).to.include({ intact: false, firstBadSeq: 6, finding: Finding.FINDING_ALTERED, checkpointSeq: 6 });
        expect(result.problem).to.match(/^event 6 was altered \(its link is not the one its signed checkpoint of \S+ records 6: the chain up to it was rewritten\)$/);
        const checkpoint = await sys.db('key-management')('kms_audit_checkpoints').where({ org }).first();
        expect(Number(checkpoint.seq)).to.equal(6);
      });

      it('refuses a checkpoint edited in key-management\'s database (DATA_LOSS), never trusting it', async () => {
        const { org, client } = await orgWithEvents(3);
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, checkpointSeq: 3 });
        // Moved back to an earlier event with that event's real link: only the signature tells.
        const second = await db()('secret_audit_events').where({ org, seq: 2 }).first();
        await sys.db('key-management')('kms_audit_checkpoints').where({ org }).update({ seq: 2, link: Buffer.from(second.hash, 'hex') });
        const refused = await failure(client.verifyAuditLog({ org }));
        expect(refused.code).to.equal('DATA_LOSS');
        expect(refused.message).to.include(`audit checkpoint of org "${org}" fails its signature`);
      });

      it('leaves other orgs\' chains intact', async () => {
        const { org, client } = await orgWithEvents(2);
        const other = await orgWithEvents(2);
        await db()('secret_audit_events').where({ org: other.org, seq: 1 }).update({ actor: 'mallory' });
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 2 });
      });

      it('verifies a long chain walked in pages', async () => {
        const { org, client } = await orgWithEvents(1);
        // 1200 events: more than one page of the walk. Denials are the cheapest to cause,
        // 50 at a time (each takes the org's head row lock).
        const denied = await member(org);
        for (let sent = 1; sent < 1200; sent += 50) {
          await Promise.all(Array.from({ length: Math.min(50, 1200 - sent) }, () => failure(denied.listAuditEvents({ org }))));
        }
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 1200, firstBadSeq: 0, problem: '' });
        await db()('secret_audit_events').where({ org, seq: 1100 }).update({ request_id: 'req-forged-0001' });
        expect(await client.verifyAuditLog({ org })).to.include({ intact: false, firstBadSeq: 1100, events: 1100 });
      });

      it('finds an org with no events intact', async () => {
        expect(await (await admin('audit-empty')).verifyAuditLog({ org: 'audit-empty' })).to.include({ intact: true, events: 0, firstBadSeq: 0, problem: '' });
      });
    });

    describe('a chain from before links were keyed (migration)', () => {
      /**
       * Turns an org's chain into one as the previous release wrote it: sha256 links, a head
       * without keyed_from, and no checkpoint in key-management.
       */
      async function makeOldStyle(org: string): Promise<void> {
        const knex = db();
        const rows: AuditRecord[] = await knex('secret_audit_events').where({ org }).orderBy('seq');
        let prevHash = GENESIS_HASH;
        for (const row of rows) {
          const e = fromAuditRecord(row);
          const hash = auditHash(prevHash, e.seq, e);
          await knex('secret_audit_events').where({ org, seq: e.seq }).update({ prev_hash: prevHash, hash });
          prevHash = hash;
        }
        await knex('secret_audit_heads').where({ org }).update({ hash: prevHash, keyed_from: null });
        await sys.db('key-management')('kms_audit_checkpoints').where({ org }).delete();
      }

      it('verifies an old-style chain as before, then continues it keyed from a marked event', async () => {
        const { org, client } = await orgWithEvents(3);
        await makeOldStyle(org);
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 3, checkpointSeq: 0, finding: Finding.FINDING_INTACT });
        const unkeyed = await allEvents(client, org);
        expect(unkeyed.map((e) => e.keyed)).to.deep.equal([false, false, false]);

        await client.createSecret({ org, secret: { name: 'AFTER' }, value: await sys.seal('v', org) });
        const events = await allEvents(client, org);
        expect(events.map((e) => [e.seq, e.action, e.keyed])).to.deep.equal([
          [1, 'secret.created', false],
          [2, 'secret.created', false],
          [3, 'secret.created', false],
          [4, 'audit.chain_keyed', true],
          [5, 'secret.created', true],
        ]);
        expect(events[3]).to.deep.include({ actor: 'svc:secret-store', prevHash: unkeyed[2].hash });
        expect(events[3].details).to.deep.equal({ legacyEvents: '3', legacyHead: unkeyed[2].hash });
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 5, checkpointSeq: 5 });
      });

      it('still names an edited unkeyed event, and a recomputed unkeyed part at the marked event', async () => {
        const { org, client } = await orgWithEvents(3);
        await makeOldStyle(org);
        await client.createSecret({ org, secret: { name: 'AFTER' }, value: await sys.seal('v', org) });
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, checkpointSeq: 5 });
        await db()('secret_audit_events').where({ org, seq: 2 }).update({ actor: 'mallory' });
        expect(await client.verifyAuditLog({ org })).to.include({ intact: false, firstBadSeq: 2, finding: Finding.FINDING_ALTERED });
        // Recomputing the unkeyed part is possible without a key; the keyed marker then no longer follows.
        const knex = db();
        let prevHash = (await knex('secret_audit_events').where({ org, seq: 1 }).first()).hash as string;
        for (const seq of [2, 3]) {
          const e = fromAuditRecord(await knex('secret_audit_events').where({ org, seq }).first());
          const hash = auditHash(prevHash, seq, e);
          await knex('secret_audit_events').where({ org, seq }).update({ prev_hash: prevHash, hash });
          prevHash = hash;
        }
        const result = await client.verifyAuditLog({ org });
        expect(result).to.include({ intact: false, firstBadSeq: 3, finding: Finding.FINDING_ALTERED });
        expect(result.problem).to.equal('event 3 was altered (its hash was recomputed; event 4 records a different one)');
      });
    });

    describe('access', () => {
      let org: string;
      before(async () => {
        ({ org } = await orgWithEvents(2));
      });

      const refused: Array<{ who: string; client(org: string): Promise<SecretClient> }> = [
        { who: 'a member of the org', client: (o) => member(o) },
        { who: 'an admin of another org', client: async () => sys.secrets(await sys.token('admin', { org: 'audit-other', subject: 'gus@other' })) },
        { who: 'a service (svc:job-launcher)', client: () => service('job-launcher') },
        { who: 'a service (svc:key-management)', client: () => service('key-management') },
      ];
      for (const r of refused) {
        it(`refuses ${r.who} to list or verify (PERMISSION_DENIED)`, async () => {
          const client = await r.client(org);
          expect((await failure(client.listAuditEvents({ org }))).code).to.equal('PERMISSION_DENIED');
          expect((await failure(client.verifyAuditLog({ org }))).code).to.equal('PERMISSION_DENIED');
        });
      }

      it('checks permission before the request: a member with a bad page token is refused, not told about it', async () => {
        expect((await failure((await member(org)).listAuditEvents({ org, pageToken: '!!', pageSize: -1 }))).code).to.equal('PERMISSION_DENIED');
      });

      it('lets an operator list and verify any org', async () => {
        const ops = await operator();
        const events = await allEvents(ops, org);
        // S1, S2 created, then the refusals above (each audited).
        expect(events.slice(0, 2).map((e) => e.action)).to.deep.equal(['secret.created', 'secret.created']);
        expect(new Set(events.slice(2).map((e) => e.action))).to.deep.equal(new Set(['call.denied']));
        expect(await ops.verifyAuditLog({ org })).to.include({ intact: true, events: events.length });
        expect(await ops.verifyAuditLog({ org: 'audit-ops' })).to.include({ intact: true });
      });
    });

    describe('RecordAuditEvent (key-management\'s events)', () => {
      const request = (org: string) => ({
        org,
        actor: 'otto@platform',
        action: 'org_key.rotated',
        requestId: 'req-rotate-key-01',
        details: { previous_key_id: 'k1', key_id: 'k2' },
      });

      // A denial lands in the org's chain only when the caller belongs to it (DESIGN §3).
      const refused: Array<{ who: string; client(org: string): Promise<SecretClient>; inOrg: string[] }> = [
        { who: 'an admin', client: (o) => admin(o), inOrg: ['call.denied'] },
        { who: 'a member', client: (o) => member(o), inOrg: ['call.denied'] },
        { who: 'an operator (of another org)', client: () => operator(), inOrg: [] },
        { who: 'svc:secret-store', client: () => service('secret-store'), inOrg: [] },
        { who: 'svc:job-launcher (a key event)', client: () => service('job-launcher'), inOrg: [] },
      ];
      for (const r of refused) {
        it(`refuses ${r.who} (PERMISSION_DENIED) and appends nothing but ${r.inOrg.length > 0 ? 'the denial' : 'nothing'}`, async () => {
          const org = freshOrg();
          expect((await failure((await r.client(org)).recordAuditEvent(request(org)))).code).to.equal('PERMISSION_DENIED');
          const actions = (await db()('secret_audit_events').where({ org })).map((e: { action: string }) => e.action);
          expect(actions).to.deep.equal(r.inOrg);
        });
      }

      it('appends svc:key-management\'s event to the org\'s chain', async () => {
        const { org, client } = await orgWithEvents(2);
        const kms = await service('key-management');
        const recorded = await kms.recordAuditEvent(request(org));
        expectEvent(recorded, { action: 'org_key.rotated', actor: 'otto@platform', requestId: 'req-rotate-key-01', secretName: '', secretVersion: 0, details: { previous_key_id: 'k1', key_id: 'k2' } });
        expect(recorded).to.include({ org, seq: 3 });
        const retired = await kms.recordAuditEvent({ org, actor: 'svc:key-management', action: 'org_key.retired', details: { key_id: 'k1' } }, { requestId: 'req-retire-00001' });
        expect(retired).to.include({ seq: 4, prevHash: recorded.hash, requestId: 'req-retire-00001' });
        expect((await allEvents(client, org, { action: 'org_key.rotated' })).map((e) => e.seq)).to.deep.equal([3]);
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 4 });
        // Master key events belong to the platform chain, never to an org's.
        const misplaced = await failure(kms.recordAuditEvent({ org, actor: 'svc:key-management', action: 'master_key.retired', details: { version: '1' } }));
        expect(misplaced).to.deep.include({ code: 'INVALID_ARGUMENT', fields: ['org'] });
      });
    });

    describe('denied calls (DESIGN §3): in a chain, never grown by outsiders', () => {
      /** The org's events through the database (a chain an outsider must not grow). */
      const eventsOf = async (org: string) => (await db()('secret_audit_events').where({ org }).orderBy('seq')).map(fromAuditRecord);

      it('puts each denial of a principal of the org into the org\'s chain, in every service', async () => {
        const { org } = await orgWithEvents(1);
        const memberToken = await sys.token('member', { org, subject: `mia@${org}` });
        const operatorOfOrg = await sys.token('operator', { org, subject: `otto@${org}` });
        expect((await failure(sys.kms(memberToken).rotateOrgKey({ org }, { requestId: 'req-denied-kms-01' }))).code).to.equal('PERMISSION_DENIED');
        expect((await failure(sys.jobs(operatorOfOrg).listJobs({ org }, { requestId: 'req-denied-job-01' }))).code).to.equal('PERMISSION_DENIED');
        const denials = (await eventsOf(org)).filter((e) => e.action === 'call.denied');
        expect(denials.map((e) => [e.actor, e.requestId, e.details.method, e.details.service])).to.deep.equal([
          [`mia@${org}`, 'req-denied-kms-01', 'RotateOrgKey', 'key-management'],
          [`otto@${org}`, 'req-denied-job-01', 'ListJobs', 'job-launcher'],
        ]);
      });

      it('never appends an outsider\'s denials to the org it named, nor creates a chain for an org that does not exist', async () => {
        const { org: target } = await orgWithEvents(2);
        const outsiderOrg = freshOrg();
        const outsider = await sys.token('admin', { org: outsiderOrg, subject: `gus@${outsiderOrg}` });
        const calls = [
          () => sys.secrets(outsider).createSecret({ org: target, secret: { name: 'X' }, value: { sealedBox: Buffer.alloc(48), keyId: 'k' } }),
          () => sys.secrets(outsider).listAuditEvents({ org: target }),
          () => sys.kms(outsider).rotateOrgKey({ org: target }),
          () => sys.jobs(outsider).listJobs({ org: target }),
          () => sys.secrets(outsider).listSecrets({ org: 'no-such-org' }),
        ];
        const before = await eventsOf(target);
        for (let round = 0; round < 3; round++) for (const call of calls) expect((await failure(call())).code).to.equal('PERMISSION_DENIED');
        expect(await eventsOf(target)).to.deep.equal(before);
        expect(await eventsOf('no-such-org')).to.deep.equal([]);
      });

      it('counts an outsider\'s denials in its own org\'s chain, one event per caller and minute ("N denied calls by X")', async () => {
        const { org: target } = await orgWithEvents(1);
        const outsiderOrg = freshOrg();
        const subject = `gus@${outsiderOrg}`;
        const outsider = sys.secrets(await sys.token('admin', { org: outsiderOrg, subject }));
        for (let i = 0; i < 37; i++) await failure(outsider.listSecrets({ org: i % 2 === 0 ? target : 'no-such-org' }));
        expect(await eventsOf(outsiderOrg)).to.deep.equal([], 'held until the minute is over');
        // Held counts are written at the latest on shutdown.
        await sys.restart();
        const aggregates = await eventsOf(outsiderOrg);
        // One per minute: the 37 calls may straddle a minute boundary.
        expect(aggregates.length).to.be.within(1, 2);
        expect(aggregates.every((e) => e.action === 'call.denied' && e.actor === subject && e.details.service === 'secret-store')).to.equal(true);
        expect(aggregates.reduce((n, e) => n + Number(e.details.count), 0)).to.equal(37);
        if (aggregates.length === 1) {
          expect(aggregates[0].details).to.deep.include({ summary: `37 denied calls by ${subject}`, methods: 'ListSecrets', orgs: `${target},no-such-org`, role: 'admin' });
        }
        expect(await (await admin(outsiderOrg)).verifyAuditLog({ org: outsiderOrg })).to.include({ intact: true });
      });
    });

    describe('RecordAuditEvent (the job launcher\'s job.launch_failed)', () => {
      const failedLaunch = (org: string) => ({ org, actor: 'mia@x', action: 'job.launch_failed', requestId: 'req-launch-fail-01', details: { job: 'j_0123456789abcdef', attempt: '1', reason: 'the backend refused' } });
      it('appends svc:job-launcher\'s job.launch_failed to the org\'s chain', async () => {
        const { org, client } = await orgWithEvents(1);
        expect(await (await service('job-launcher')).recordAuditEvent(failedLaunch(org))).to.include({ org, seq: 2, action: 'job.launch_failed', actor: 'mia@x' });
        expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 2 });
      });
      it('refuses job.launch_failed from svc:key-management (PERMISSION_DENIED), appending nothing', async () => {
        const org = freshOrg();
        expect((await failure((await service('key-management')).recordAuditEvent(failedLaunch(org)))).code).to.equal('PERMISSION_DENIED');
        expect(await db()('secret_audit_events').where({ org, action: 'job.launch_failed' })).to.deep.equal([]);
      });
    });

    describe('RecordAuditEvent (denials in key-management and the job launcher)', () => {
      for (const svc of ['key-management', 'job-launcher']) {
        it(`appends svc:${svc}'s call.denied to an org's chain and to the platform chain`, async () => {
          const { org, client } = await orgWithEvents(1);
          const recorder = await service(svc);
          const denial = { actor: 'mia@x', action: 'call.denied', requestId: 'req-denied-svc-01', details: { method: 'GetJob', service: svc } };
          expect(await recorder.recordAuditEvent({ org, ...denial })).to.include({ org, seq: 2, action: 'call.denied' });
          expect(await recorder.recordAuditEvent({ org: '_platform', ...denial })).to.include({ org: '_platform', action: 'call.denied' });
          expect(await client.verifyAuditLog({ org })).to.include({ intact: true, events: 2 });
        });
      }
    });

    describe('bad input → INVALID_ARGUMENT naming the field', () => {
      const org = 'audit-bad-input';
      const long = 'x'.repeat(257);
      const manyDetails = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k_${String.fromCharCode(97 + i)}`, 'v']));
      const valid = { org, actor: 'otto@platform', action: 'org_key.rotated', requestId: '', details: {} };
      const cases: Array<{ name: string; call(c: { admin: SecretClient; ops: SecretClient; kms: SecretClient }): Promise<unknown>; field: string }> = [
        { name: 'list: negative page_size', call: (c) => c.admin.listAuditEvents({ org, pageSize: -1 }), field: 'page_size' },
        { name: 'list: unknown action', call: (c) => c.admin.listAuditEvents({ org, action: 'secret.stolen' }), field: 'action' },
        { name: 'list: invalid secret name', call: (c) => c.admin.listAuditEvents({ org, secretName: 'no spaces allowed' }), field: 'secret_name' },
        { name: 'list: actor too long', call: (c) => c.admin.listAuditEvents({ org, actor: long }), field: 'actor' },
        { name: 'list: garbage page token', call: (c) => c.admin.listAuditEvents({ org, pageToken: 'not-a-token' }), field: 'page_token' },
        { name: 'list: invalid org (operator)', call: (c) => c.ops.listAuditEvents({ org: 'Not An Org' }), field: 'org' },
        { name: 'verify: missing org (operator)', call: (c) => c.ops.verifyAuditLog({ org: '' }), field: 'org' },
        { name: 'record: invalid org', call: (c) => c.kms.recordAuditEvent({ ...valid, org: 'BAD_ORG' }), field: 'org' },
        { name: 'record: missing actor', call: (c) => c.kms.recordAuditEvent({ ...valid, actor: '' }), field: 'actor' },
        { name: 'record: actor too long', call: (c) => c.kms.recordAuditEvent({ ...valid, actor: long }), field: 'actor' },
        { name: 'record: malformed action', call: (c) => c.kms.recordAuditEvent({ ...valid, action: 'Org-Key.Rotated' }), field: 'action' },
        { name: 'record: missing action', call: (c) => c.kms.recordAuditEvent({ ...valid, action: '' }), field: 'action' },
        { name: 'record: a secret-store action', call: (c) => c.kms.recordAuditEvent({ ...valid, action: 'secret.deleted' }), field: 'action' },
        { name: 'record: an unknown key action', call: (c) => c.kms.recordAuditEvent({ ...valid, action: 'org_key.stolen' }), field: 'action' },
        { name: 'record: the marker of keyed links (never recorded from outside)', call: (c) => c.kms.recordAuditEvent({ ...valid, action: 'audit.chain_keyed' }), field: 'action' },
        { name: 'record: malformed request id', call: (c) => c.kms.recordAuditEvent({ ...valid, requestId: 'short' }), field: 'request_id' },
        { name: 'record: more than 20 details', call: (c) => c.kms.recordAuditEvent({ ...valid, details: manyDetails }), field: 'details' },
        { name: 'record: a detail key with a dash', call: (c) => c.kms.recordAuditEvent({ ...valid, details: { 'key-id': 'k2' } }), field: 'details["key-id"]' },
        { name: 'record: a detail key with digits', call: (c) => c.kms.recordAuditEvent({ ...valid, details: { kek2: 'k2' } }), field: 'details["kek2"]' },
        { name: 'record: a detail value too long', call: (c) => c.kms.recordAuditEvent({ ...valid, details: { note: long } }), field: 'details["note"]' },
      ];
      for (const c of cases) {
        it(c.name, async () => {
          const clients = { admin: await admin(org), ops: await operator(), kms: await service('key-management') };
          const result = await failure(c.call(clients));
          expect(result.code).to.equal('INVALID_ARGUMENT');
          expect(result.fields).to.deep.equal([c.field]);
        });
      }

      it('names every bad field of one request at once', async () => {
        const result = await failure((await service('key-management')).recordAuditEvent({ org: 'BAD', actor: '', action: 'nope', details: { 'a-b': '' } }));
        expect(result.fields).to.deep.equal(['org', 'actor', 'action', 'details["a-b"]']);
      });

      it('writes nothing for a refused record', async () => {
        expect(await db()('secret_audit_events').where({ org })).to.deep.equal([]);
      });
    });
  });
}
