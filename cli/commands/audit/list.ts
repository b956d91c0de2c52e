import { Flags } from '../../oclif.js';
import type { AuditApi, AuditEventJson, AuditListQuery } from '../../audit-api.js';
import { BaseCommand } from '../../base-command.js';
import { EXIT } from '../../exit-codes.js';
import { formatTable, formatTime, truncateCell } from '../../output.js';
import { parseTimeFlag } from '../../time-flags.js';

const PAGE_SIZE = 1000;
/** How often --follow asks for new events. */
const FOLLOW_INTERVAL_MS = 1000;

export default class AuditList extends BaseCommand<typeof AuditList> {
  static override aliases = ['audit:ls'];
  static override summary = 'List the org\'s audit events, oldest first (org admins and operators).';
  static override description = `Every change to a secret, every job that got a secret, every refused call and every key rotation, with who did it and the request id. Values are never part of an event. Reads every page unless --limit or --tail is given.
--since and --until take a duration back from now (15m, 2h, 7d) or an RFC 3339 time. --tail N lists the N newest (still oldest first). --follow keeps printing new events as they are recorded until Ctrl-C (exit status 130); with -o json it prints one event per line (JSON Lines).`;

  static override examples = [
    '<%= config.bin %> audit list',
    { description: 'What just happened: the last 20 events, then new ones as they come', command: '<%= config.bin %> audit list --tail 20 --follow' },
    { description: 'The last hour', command: '<%= config.bin %> audit list --since 1h' },
    { description: 'What happened to one secret', command: '<%= config.bin %> audit list --secret HF_TOKEN' },
    { description: 'Refused calls on one day, as JSON', command: '<%= config.bin %> audit list --action call.denied --since 2026-03-01 --until 2026-03-02 -o json' },
    { description: 'The first 20 events of one user', command: '<%= config.bin %> audit list --actor ada@acme --limit 20' },
    { description: 'Master key events (operators)', command: '<%= config.bin %> audit list --org _platform' },
  ];

  static override flags = {
    action: Flags.string({
      description: 'Only events of this action, e.g. secret.created, secret.value_rotated, secret.referenced, call.denied, org_key.rotated.',
      helpValue: 'ACTION',
    }),
    secret: Flags.string({ description: 'Only events about secret NAME.', helpValue: 'NAME' }),
    actor: Flags.string({ description: 'Only events by this subject (a token\'s sub).', helpValue: 'SUBJECT' }),
    since: Flags.string({ description: 'Only events at or after this time: 15m, 2h, 7d back, or an RFC 3339 time.', helpValue: 'TIME' }),
    until: Flags.string({ description: 'Only events before this time: 15m, 2h, 7d back, or an RFC 3339 time.', helpValue: 'TIME' }),
    limit: Flags.integer({ description: 'List at most N events (the oldest N).', min: 1, helpValue: 'N', exclusive: ['tail'] }),
    tail: Flags.integer({ description: 'List the N newest events (oldest first).', min: 1, helpValue: 'N' }),
    follow: Flags.boolean({ char: 'f', description: 'Keep printing new events as they are recorded, until Ctrl-C.', exclusive: ['until'] }),
  };

  async run(): Promise<AuditEventJson[]> {
    const { action, secret, actor, limit, tail, follow } = this.flags;
    const now = Date.now();
    const filter: Omit<AuditListQuery, 'pageSize' | 'pageToken'> = {
      action,
      secretName: secret,
      actor,
      startTime: this.flags.since === undefined ? undefined : parseTimeFlag('since', this.flags.since, now),
      endTime: this.flags.until === undefined ? undefined : parseTimeFlag('until', this.flags.until, now),
    };
    const api = await this.openAuditApi();
    const events = tail === undefined ? await listOldestFirst(api, filter, limit) : await listNewest(api, filter, tail);
    if (follow) return this.follow(api, filter, events);
    if (events.length === 0 && this.outputFormat === 'table') {
      const filters = [action && `of action ${action}`, secret && `about secret ${secret}`, actor && `by ${actor}`].filter(Boolean).join(' ');
      this.notice(`No audit events${filters ? ` ${filters}` : ''} in org ${api.connection.org}.`);
    }
    return this.print(events, (rows) => (rows.length === 0 ? '' : auditTable(rows)), (e) => String(e.seq));
  }

  /** --follow: prints what was listed, then new events as they come, until Ctrl-C (exit 130). */
  private async follow(api: AuditApi, filter: Omit<AuditListQuery, 'pageSize' | 'pageToken'>, listed: AuditEventJson[]): Promise<AuditEventJson[]> {
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint); // a second Ctrl-C kills the process the default way
    let header = true;
    const show = (events: AuditEventJson[]) => {
      if (events.length === 0) return;
      this.log(this.followLines(events, header));
      header = false;
    };
    try {
      show(listed);
      let afterSeq = listed.at(-1)?.seq ?? 0;
      while (!stop.signal.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, FOLLOW_INTERVAL_MS);
          stop.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
        if (stop.signal.aborted) break;
        const fresh = await listOldestFirst(api, { ...filter, afterSeq }, undefined);
        show(fresh);
        afterSeq = fresh.at(-1)?.seq ?? afterSeq;
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
    this.exit(EXIT.INTERRUPTED);
    return listed;
  }

  /** Events as --follow prints them: table rows (the header once), JSON Lines, YAML documents, or seqs. */
  private followLines(events: AuditEventJson[], header: boolean): string {
    switch (this.outputFormat) {
      case 'json':
        return events.map((e) => JSON.stringify(e)).join('\n');
      case 'name':
        return events.map((e) => String(e.seq)).join('\n');
      case 'yaml':
        return events.map((e) => `---\n${JSON.stringify(e)}`).join('\n');
      default: {
        const table = auditTable(events);
        return header ? table : table.slice(table.indexOf('\n') + 1);
      }
    }
  }
}

/** Oldest first, every page (or the first `limit` events). */
async function listOldestFirst(api: AuditApi, filter: Omit<AuditListQuery, 'pageSize' | 'pageToken'>, limit: number | undefined): Promise<AuditEventJson[]> {
  const events: AuditEventJson[] = [];
  let pageToken = '';
  do {
    const pageSize = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - events.length);
    const page = await api.listAuditEvents({ ...filter, pageSize, pageToken });
    events.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken !== '' && (limit === undefined || events.length < limit));
  if (limit !== undefined) events.splice(limit);
  return events;
}

/** The `count` newest, asked for newest first, printed oldest first. */
async function listNewest(api: AuditApi, filter: Omit<AuditListQuery, 'pageSize' | 'pageToken'>, count: number): Promise<AuditEventJson[]> {
  const events: AuditEventJson[] = [];
  let pageToken = '';
  do {
    const page = await api.listAuditEvents({ ...filter, newestFirst: true, pageSize: Math.min(PAGE_SIZE, count - events.length), pageToken });
    events.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken !== '' && events.length < count);
  return events.slice(0, count).reverse();
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
    String(e.seq),
    formatTime(e.time),
    e.actor,
    e.action,
    e.secretName,
    e.secretVersion ? String(e.secretVersion) : '',
    detailsCell(e.details),
  ]);
  return formatTable(headers, rows);
}
