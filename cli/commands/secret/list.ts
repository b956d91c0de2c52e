import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { formatTable, formatTime, truncateCell } from '../../output.js';
import type { SecretJson } from '../../secrets-api.js';

const PAGE_SIZE = 100;

export default class SecretList extends BaseCommand<typeof SecretList> {
  static override aliases = ['secret:ls'];
  static override summary = 'List the org\'s secrets (metadata only; values are never shown).';
  static override description = 'Reads every page unless --limit is given. Deleted secrets are hidden unless --include-deleted.';

  static override examples = [
    '<%= config.bin %> secret list',
    { description: 'Including deleted secrets, as JSON', command: '<%= config.bin %> secret list --include-deleted -o json' },
  ];

  static override flags = {
    'include-deleted': Flags.boolean({ description: 'Also list soft-deleted secrets.' }),
    limit: Flags.integer({ description: 'List at most N secrets.', min: 1, helpValue: 'N' }),
  };

  async run(): Promise<SecretJson[]> {
    const { limit } = this.flags;
    const showDeleted = this.flags['include-deleted'];
    const api = await this.openApi();
    const secrets: SecretJson[] = [];
    let pageToken = '';
    do {
      const pageSize = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - secrets.length);
      const page = await api.listSecrets({ pageSize, pageToken, showDeleted });
      secrets.push(...page.secrets);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && (limit === undefined || secrets.length < limit));
    if (limit !== undefined) secrets.splice(limit);
    if (secrets.length === 0 && this.outputFormat === 'table') this.notice(`No secrets in org ${api.connection.org}.`);
    return this.print(secrets, (rows) => (rows.length === 0 ? '' : secretTable(rows, showDeleted)), (s) => s.name);
  }
}

function secretTable(secrets: SecretJson[], withDeleted: boolean): string {
  const headers = ['NAME', 'KEY', 'VERSION', 'UPDATED', 'DESCRIPTION', ...(withDeleted ? ['DELETED'] : [])];
  const rows = secrets.map((s) => [
    s.name ?? '',
    s.key ?? '',
    String(s.version ?? 0),
    formatTime(s.updateTime),
    truncateCell(s.description),
    ...(withDeleted ? [formatTime(s.deleteTime)] : []),
  ]);
  return formatTable(headers, rows);
}
