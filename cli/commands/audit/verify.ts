import type { AuditVerificationJson } from '../../audit-api.js';
import { BaseCommand } from '../../base-command.js';
import { EXIT } from '../../exit-codes.js';

/** One line: intact (and where it is anchored), or the break named as the server found it. */
export function describeVerification(org: string, r: AuditVerificationJson): string {
  if (r.intact) {
    const anchored = r.checkpointSeq > 0 ? `signed checkpoint at #${r.checkpointSeq}${r.checkpointTime ? ` (${r.checkpointTime})` : ''}` : 'no signed checkpoint yet';
    return `audit log of org ${org} intact: ${r.events} ${r.events === 1 ? 'event' : 'events'}, ${anchored}`;
  }
  if (r.finding === 'tail_missing') return `BROKEN: events after #${r.missingAfterSeq} are missing: ${r.problem}`;
  if (r.finding === 'altered') return `BROKEN: event #${r.firstBadSeq} was altered: ${r.problem}`;
  return `BROKEN at event #${r.firstBadSeq}: ${r.problem}`;
}

export default class AuditVerify extends BaseCommand<typeof AuditVerify> {
  static override summary = 'Check that the org\'s audit log is intact (org admins and operators).';
  static override description =
    'Walks the hash chain on the server: every event must follow the previous one and hash to its recorded hash, and the last must match the chain\'s head. Names the first event that was altered, removed or reordered and exits with status 1 when the log is broken (5 when the server cannot be reached: `vesslctl help exit-codes`).';

  static override examples = [
    '<%= config.bin %> audit verify',
    { description: 'In a script: the exit status says whether the log is intact', command: '<%= config.bin %> audit verify -o json || alert-security-team' },
    { description: 'As an operator, for another org', command: '<%= config.bin %> audit verify --org globex' },
  ];

  async run(): Promise<AuditVerificationJson> {
    const api = await this.openAuditApi();
    const result = await api.verifyAuditLog();
    const org = api.connection.org;
    await this.print(result, (r) => describeVerification(org, r));
    // The check ran and its answer is no (a server that is down exits 5, not 1).
    if (!result.intact) this.exit(EXIT.NEGATIVE);
    return result;
  }
}
