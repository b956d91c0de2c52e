import { Flags } from '../../oclif.js';
import type { AuditEventJson } from '../../audit-api.js';
import { BaseCommand } from '../../base-command.js';
import { formatTable, formatTime, truncateCell } from '../../output.js';

const PAGE_SIZE = 1000;

export default class AuditList extends BaseCommand<typeof AuditList> {
  static override aliases = ['audit:ls'];
  static override summary = 'List the org\'s audit events, oldest first (org admins and operators).';
  static override description =
    'Every change to a secret, every job that got a secret, every refused call and every key rotation, with who did it and the request id. Values are never part of an event. Reads every page unless --limit is given.';

  static override examples = [
    '<%= config.bin %> audit list',
    { description: 'What happened to one secret', command: '<%= config.bin %> audit list --secret HF_TOKEN' },
    { description: 'Refused calls, as JSON', command: '<%= config.bin %> audit list --action call.denied -o json' },
    { description: 'The first 20 events of one user', command: '<%= config.bin %> audit list --actor ada@acme --limit 20' },
  ];

  static override flags = {
    action: Flags.string({
      description: 'Only events of this action, e.g. secret.created, secret.value_rotated, secret.referenced, call.denied, org_key.rotated.',
      helpValue: 'ACTION',
    }),
    secret: Flags.string({ description: 'Only events about secret NAME.', helpValue: 'NAME' }),
    actor: Flags.string({ description: 'Only events by this subject (a token\'s sub).', helpValue: 'SUBJECT' }),
    limit: Flags.integer({ description: 'List at most N events.', min: 1, helpValue: 'N' }),
  };

  async run(): Promise<AuditEventJson[]> {
    const { action, secret, actor, limit } = this.flags;
    const api = await this.openAuditApi();
    const events: AuditEventJson[] = [];
    let pageToken = '';
    do {
      const pageSize = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - events.length);
      const page = await api.listAuditEvents({ pageSize, pageToken, action, secretName: secret, actor });
      events.push(...page.events);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && (limit === undefined || events.length < limit));
    if (limit !== undefined) events.splice(limit);
    if (events.length === 0 && this.outputFormat === 'table') {
      const filters = [action && `of action ${action}`, secret && `about secret ${secret}`, actor && `by ${actor}`].filter(Boolean).join(' ');
      this.notice(`No audit events${filters ? ` ${filters}` : ''} in org ${api.connection.org}.`);
    }
    return this.print(events, (rows) => (rows.length === 0 ? '' : auditTable(rows)), (e) => String(e.seq));
  }
}

/** "k=v k=v", keys sorted, on one line. */
export const detailsCell = (details: Record<string, string> | undefined) =>
  truncateCell(
    Object.keys(details ?? {})
      .sort()
      .map((k) => `${k}=${details![k]}`)
      .join(' '),
    60,
  );

function auditTable(events: AuditEventJson[]): string {
  const headers = ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'SECRET', 'VERSION', 'DETAILS'];
  const rows = events.map((e) => [
    String(e.seq ?? 0),
    formatTime(e.time),
    e.actor ?? '',
    e.action ?? '',
    e.secretName ?? '',
    e.secretVersion ? String(e.secretVersion) : '',
    detailsCell(e.details),
  ]);
  return formatTable(headers, rows);
}
