import { expect } from 'chai';
import type { AuditVerificationJson } from '../cli/audit-api.js';
import { describeVerification } from '../cli/commands/audit/verify.js';

// What `vesslctl audit verify` prints for each finding of VerifyAuditLog (the table output;
// `-o json` prints the fields themselves).

const base: AuditVerificationJson = { intact: false, events: 0, firstBadSeq: 0, problem: '', finding: 'intact', missingAfterSeq: 0, checkpointSeq: 0, checkpointTime: null };

const rows: Array<{ name: string; result: Partial<AuditVerificationJson>; line: string }> = [
  {
    name: 'intact and anchored',
    result: { intact: true, events: 12, checkpointSeq: 12, checkpointTime: '2026-12-05T09:00:00.000Z' },
    line: 'audit log of org acme intact: 12 events, signed checkpoint at #12 (2026-12-05T09:00:00.000Z)',
  },
  { name: 'intact, not anchored yet (an older chain)', result: { intact: true, events: 1 }, line: 'audit log of org acme intact: 1 event, no signed checkpoint yet' },
  {
    name: 'a cut tail',
    result: { events: 4, firstBadSeq: 5, finding: 'tail_missing', missingAfterSeq: 4, problem: 'events after 4 are missing: the chain ends at 4, its signed checkpoint of 2026-12-05T09:00:00.000Z records 6' },
    line: 'BROKEN: events after #4 are missing: events after 4 are missing: the chain ends at 4, its signed checkpoint of 2026-12-05T09:00:00.000Z records 6',
  },
  {
    name: 'an altered event',
    result: { events: 3, firstBadSeq: 3, finding: 'altered', problem: 'event 3 was altered (its hash does not match its contents)' },
    line: 'BROKEN: event #3 was altered: event 3 was altered (its hash does not match its contents)',
  },
  { name: 'a gap', result: { events: 4, firstBadSeq: 4, finding: 'gap', problem: 'event 4 is missing (the chain jumps from 3 to 5)' }, line: 'BROKEN at event #4: event 4 is missing (the chain jumps from 3 to 5)' },
];

describe('vesslctl audit verify output', () => {
  for (const row of rows) {
    it(`names ${row.name}`, () => {
      expect(describeVerification('acme', { ...base, ...row.result })).to.equal(row.line);
    });
  }
});
