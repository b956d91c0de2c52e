// ListAuditEvents' time range, newest-first order and after_seq (additive fields behind
// `vesslctl audit list --since/--until/--tail/--follow`), on both engines.
import { expect } from 'chai';
import type { AuditEvent } from '../services/gen/vessl/secrets/v1/secrets.js';
import { engines } from './support/postgres.js';
import { failure, startTestSystem, type SecretClient, type TestSystem } from './support/system.js';

for (const engine of engines()) {
  describe(`audit listing by time and from the newest (${engine.name})`, function () {
    let sys: TestSystem;
    let client: SecretClient;
    let all: AuditEvent[];
    const org = 'ranges';
    const seqs = (events: AuditEvent[]) => events.map((e) => e.seq);

    before(async () => {
      sys = await startTestSystem({ databaseUrl: await engine.freshUrl(), org });
      client = sys.secrets(await sys.token('admin', { org }));
      const sealed = await sys.seal('value', org);
      for (let i = 1; i <= 7; i++) await client.createSecret({ org, secret: { name: `R${i}` }, value: sealed });
      all = (await client.listAuditEvents({ org, pageSize: 1000 })).events;
      expect(seqs(all)).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    });
    after(async () => {
      await sys?.stop();
      await engine.cleanup();
    });

    it('lists the newest first, page by page, when asked (page_size newest on the first page)', async () => {
      const first = await client.listAuditEvents({ org, pageSize: 3, newestFirst: true });
      expect(seqs(first.events)).to.deep.equal([7, 6, 5]);
      const second = await client.listAuditEvents({ org, pageSize: 3, newestFirst: true, pageToken: first.nextPageToken });
      expect(seqs(second.events)).to.deep.equal([4, 3, 2]);
      const last = await client.listAuditEvents({ org, pageSize: 3, newestFirst: true, pageToken: second.nextPageToken });
      expect(seqs(last.events)).to.deep.equal([1]);
      expect(last.nextPageToken).to.equal('');
    });

    it('lists only the events after after_seq, in either order', async () => {
      expect(seqs((await client.listAuditEvents({ org, afterSeq: 5 })).events)).to.deep.equal([6, 7]);
      expect(seqs((await client.listAuditEvents({ org, afterSeq: 5, newestFirst: true })).events)).to.deep.equal([7, 6]);
      expect((await client.listAuditEvents({ org, afterSeq: 7 })).events).to.deep.equal([]);
    });

    it('lists the events at or after start_time and before end_time', async () => {
      const start = all[2].time!;
      const end = all[5].time!;
      const expected = all.filter((e) => e.time! >= start && e.time! < end);
      const listed = await client.listAuditEvents({ org, startTime: start, endTime: end });
      expect(seqs(listed.events)).to.deep.equal(seqs(expected));
      expect(seqs(listed.events)).to.include.members([3, 4, 5]);
    });

    it('keeps a page token to its listing: other bounds or order are refused', async () => {
      const first = await client.listAuditEvents({ org, pageSize: 2, newestFirst: true });
      const other = await failure(client.listAuditEvents({ org, pageSize: 2, pageToken: first.nextPageToken }));
      expect(other).to.include({ code: 'INVALID_ARGUMENT' });
      expect(other.fields).to.deep.equal(['page_token']);
    });

    const bad: Array<[string, Record<string, unknown>, string]> = [
      ['a negative after_seq', { afterSeq: -1 }, 'after_seq'],
      ['an end_time before the start_time', { startTime: new Date(2_000_000_000_000), endTime: new Date(1_000_000_000_000) }, 'end_time'],
    ];
    for (const [what, fields, field] of bad) {
      it(`refuses ${what}, naming ${field}`, async () => {
        const refused = await failure(client.listAuditEvents({ org, ...fields }));
        expect(refused).to.include({ code: 'INVALID_ARGUMENT' });
        expect(refused.fields).to.deep.equal([field]);
      });
    }
  });
}
