import { expect } from 'chai';
import { expectUnbrokenChain, testAuditChain, testLinker } from '../../test/support/audit-chain.js';
import { createTestDatabase, POSTGRES_ENABLED, type TestDatabase } from '../../test/support/postgres.js';
import type { AuditLinker } from '../runtime/audit-link.js';
import { openDatabase, type Knex } from '../runtime/db.js';
import { AuditChain, listAuditEvents, type AuditEvent } from './audit.js';
import { UnlockedAuditAppends } from './audit-unlocked-append.js';
import { secretStoreMigrations } from './migrations.js';

/**
 * PostgreSQL's appends of audit events alone (no transaction, the head checked in the
 * statement that moves it): two writers (replicas) on one database never fork a chain or lose
 * an event, whoever moves the head first.
 */
const T0 = 1_790_000_000_000;
let counter = 0;
const freshOrg = () => `org-${process.pid}-${++counter}`;
const event = (org: string, n: number, actor = 'svc:job-launcher'): AuditEvent => ({
  org,
  time: T0 + n,
  actor,
  action: 'secret.referenced',
  secretName: `S${n}`,
  secretUid: `s_${String(n).padStart(8, '0')}`,
  secretVersion: 1,
  requestId: `req-${n}`,
  details: { jobId: `j_${n}`, attempt: 1, as: 'env S' },
});

(POSTGRES_ENABLED ? describe : describe.skip)('UnlockedAuditAppends (postgres)', () => {
  let db: TestDatabase;
  let knex: Knex;
  let otherKnex: Knex;

  before(async () => {
    db = await createTestDatabase();
    knex = await openDatabase({ url: db.url, sqliteFile: '' }, 'secret_store', secretStoreMigrations);
    // A second pool on the same database: another replica.
    otherKnex = await openDatabase({ url: db.url, sqliteFile: '' }, 'secret_store', secretStoreMigrations);
  });
  after(async () => {
    await knex?.destroy();
    await otherKnex?.destroy();
    await db?.drop();
  });

  it("starts an org's chain, then appends each batch after the last, all events of a batch together", async () => {
    const org = freshOrg();
    const appends = new UnlockedAuditAppends(knex, await testAuditChain());
    await appends.append([event(org, 1)]);
    await appends.append([event(org, 2), event(org, 3), event(org, 4)]);
    const events = await listAuditEvents(knex, org);
    expect(events.map((e) => e.secretName)).to.deep.equal(['S1', 'S2', 'S3', 'S4']);
    await expectUnbrokenChain(events);
    const head = await knex('secret_audit_heads').where({ org }).first();
    expect([Number(head.seq), head.hash]).to.deep.equal([4, events[3].hash]);
  });

  it('appends again the locked way when another replica moved the head after it was read: no fork, nothing lost', async () => {
    const org = freshOrg();
    const other = new UnlockedAuditAppends(otherKnex, await testAuditChain());
    await other.append([event(org, 1)]);
    // While this writer computes its links (the head already read), the other replica appends.
    const base = await testLinker();
    const linked: number[] = [];
    let interleaved = false;
    const linker: AuditLinker = async (o, inputs) => {
      linked.push(inputs[0].seq);
      if (!interleaved) {
        interleaved = true;
        await other.append([event(org, 2, 'svc:other-replica')]);
      }
      return base(o, inputs);
    };
    await new UnlockedAuditAppends(knex, new AuditChain(linker)).append([event(org, 3), event(org, 4)]);
    // Linked first from #2 (the head it read), then again from #3 once the head had moved.
    expect(linked).to.deep.equal([2, 3]);
    const events = await listAuditEvents(knex, org);
    expect(events.map((e) => [e.seq, e.secretName])).to.deep.equal([[1, 'S1'], [2, 'S2'], [3, 'S3'], [4, 'S4']]);
    await expectUnbrokenChain(events);
  });

  it('keeps one unbroken chain under parallel appends from two replicas and locked writes in between', async () => {
    const org = freshOrg();
    const chain = await testAuditChain();
    const [a, b] = [new UnlockedAuditAppends(knex, chain), new UnlockedAuditAppends(otherKnex, chain)];
    const writes = Array.from({ length: 60 }, (_, n) => {
      if (n % 10 === 9) return knex.transaction(async (trx) => void (await chain.append(trx, [event(org, n, 'user:locked')])));
      return (n % 2 === 0 ? a : b).append([event(org, n), event(org, 1000 + n)]);
    });
    await Promise.all(writes);
    const events = await listAuditEvents(knex, org);
    expect(events).to.have.length(6 * 1 + 54 * 2);
    await expectUnbrokenChain(events);
    // Each batch went in whole and in its order.
    for (let n = 0; n < 60; n++) {
      if (n % 10 === 9) continue;
      const at = events.findIndex((e) => e.secretName === `S${n}`);
      expect(events[at + 1].secretName, `the batch of S${n}`).to.equal(`S${1000 + n}`);
    }
  });

  it('writes nothing when a batch cannot go in (an action too long for its column), and the chain goes on after', async () => {
    const org = freshOrg();
    const appends = new UnlockedAuditAppends(knex, await testAuditChain());
    await appends.append([event(org, 1)]);
    const headBefore = await knex('secret_audit_heads').where({ org }).first();
    const tooLong = { ...event(org, 3), action: 'x'.repeat(65) as AuditEvent['action'] };
    let caught: unknown;
    await appends.append([event(org, 2), tooLong]).catch((err: unknown) => (caught = err));
    expect(caught).to.be.instanceOf(Error);
    expect(await knex('secret_audit_heads').where({ org }).first()).to.deep.equal(headBefore);
    await appends.append([event(org, 4)]);
    const events = await listAuditEvents(knex, org);
    expect(events.map((e) => e.secretName)).to.deep.equal(['S1', 'S4']);
    await expectUnbrokenChain(events);
  });
});
