import { expect } from 'chai';
import type { Role } from './auth.js';
import { DenialAudit, type DenialEvent } from './denial-audit.js';
import { permissionDenied, notFound } from './errors.js';
import { createLogger } from './logger.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
const quiet = createLogger('test', { write: () => {} } as never, 'silent');

function harness() {
  let now = T0;
  const written: DenialEvent[][] = [];
  const audit = new DenialAudit('secret-store', async (events) => void written.push(events), quiet, () => now);
  let n = 0;
  const deny = (subject: string, org: string, role: Role, request: unknown, method = 'CreateSecret') =>
    audit.hooks.onError!(permissionDenied('no'), request, { principal: { subject, org, role }, requestId: `req-${String(++n).padStart(8, '0')}`, method, log: quiet });
  return { audit, written, deny, advance: (ms: number) => (now += ms), events: () => written.flat() };
}

describe('DenialAudit', () => {

  const immediate: Array<{ who: string; subject: string; org: string; role: Role; request: unknown }> = [
    { who: 'a member of the org it names', subject: 'mia', org: 'acme', role: 'member', request: { org: 'acme' } },
    { who: 'an admin of the org it names', subject: 'ada', org: 'acme', role: 'admin', request: { org: 'acme' } },
    { who: 'an operator whose token is of the org', subject: 'otto', org: 'acme', role: 'operator', request: { org: 'acme' } },
  ];
  for (const c of immediate) {
    it(`writes each denial of ${c.who} at once into that org's chain`, async () => {
      const h = harness();
      await h.deny(c.subject, c.org, c.role, c.request);
      await h.deny(c.subject, c.org, c.role, c.request);
      expect(h.written).to.have.length(2);
      expect(h.written[0]).to.deep.equal([{ org: 'acme', time: T0, actor: c.subject, requestId: 'req-00000001', details: { method: 'CreateSecret', role: c.role, service: 'secret-store' } }]);
    });
  }

  const outsiders: Array<{ who: string; subject: string; org: string; role: Role; request: unknown; chain: string; orgs: string }> = [
    { who: 'an admin of another org', subject: 'gus', org: 'globex', role: 'admin', request: { org: 'acme' }, chain: 'globex', orgs: 'acme' },
    { who: 'a member naming an org that does not exist', subject: 'mia', org: 'acme', role: 'member', request: { org: 'ghost' }, chain: 'acme', orgs: 'ghost' },
    { who: 'a caller naming a malformed org', subject: 'mia', org: 'acme', role: 'member', request: { org: 'NOT AN ORG' }, chain: 'acme', orgs: '(invalid)' },
    { who: 'a member calling a platform RPC (no org)', subject: 'mia', org: 'acme', role: 'member', request: {}, chain: 'acme', orgs: '(none)' },
    { who: 'a service', subject: 'svc:intruder', org: '', role: 'service', request: { org: 'acme' }, chain: '_platform', orgs: 'acme' },
  ];
  for (const c of outsiders) {
    it(`counts ${c.who} in ${c.chain === '_platform' ? 'the platform chain' : 'its own org\'s chain'}, one event per minute`, async () => {
      const h = harness();
      for (let i = 0; i < 37; i++) await h.deny(c.subject, c.org, c.role, c.request);
      expect(h.written).to.deep.equal([], 'nothing before the minute is over');
      h.advance(MINUTE);
      await h.audit.flush();
      expect(h.events()).to.deep.equal([
        {
          org: c.chain,
          time: T0 + MINUTE - 1,
          actor: c.subject,
          requestId: 'req-00000001',
          details: { summary: `37 denied calls by ${c.subject}`, count: '37', minute: new Date(T0).toISOString(), methods: 'CreateSecret', orgs: c.orgs, role: c.role, service: 'secret-store' },
        },
      ]);
    });
  }

  it('keeps one count per caller and minute, and lists the methods and orgs named', async () => {
    const h = harness();
    await h.deny('gus', 'globex', 'admin', { org: 'acme' }, 'CreateSecret');
    await h.deny('gus', 'globex', 'admin', { org: 'initech' }, 'GetSecret');
    await h.deny('eve', 'hooli', 'member', { org: 'acme' });
    h.advance(MINUTE);
    await h.deny('gus', 'globex', 'admin', { org: 'acme' });
    await h.audit.flush();
    expect(h.events().map((e) => [e.org, e.actor, e.details.count, e.details.methods, e.details.orgs])).to.deep.equal([
      ['globex', 'gus', '2', 'CreateSecret,GetSecret', 'acme,initech'],
      ['hooli', 'eve', '1', 'CreateSecret', 'acme'],
    ]);
    expect(h.events()[1].details.summary).to.equal('1 denied call by eve');
    await h.audit.close();
    expect(h.events().map((e) => [e.actor, e.details.count, e.details.minute])).to.deep.include(['gus', '1', new Date(T0 + MINUTE).toISOString()]);
  });

  it('writes what it holds on close, stamped no later than now', async () => {
    const h = harness();
    await h.deny('gus', 'globex', 'admin', { org: 'acme' });
    h.advance(10_000);
    await h.audit.close();
    expect(h.events().map((e) => [e.org, e.time, e.details.count])).to.deep.equal([['globex', T0 + 10_000, '1']]);
  });

  it('ignores every error that is not a denial', async () => {
    const h = harness();
    await h.audit.hooks.onError!(notFound('nope'), { org: 'acme' }, { principal: { subject: 'mia', org: 'acme', role: 'member' }, requestId: 'req-00000001', method: 'GetSecret', log: quiet });
    await h.audit.close();
    expect(h.written).to.deep.equal([]);
  });
});
