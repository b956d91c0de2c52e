import { BaseCommand } from '../../base-command.js';
import { formatTable, formatTime } from '../../output.js';
import type { OrgKeyJson } from '../../secrets-api.js';


export default class OrgKeys extends BaseCommand<typeof OrgKeys> {
  static override summary = 'List the org keypairs, newest first, with their state (org admins).';
  static override description =
    'The primary key seals new values; previous keys (replaced by `vesslctl org rotate-key`) still open values sealed under them until `vesslctl org retire-key KEY_ID` retires them.';

  static override examples = ['<%= config.bin %> org keys', '<%= config.bin %> org keys -o json'];

  async run(): Promise<OrgKeyJson[]> {
    const api = await this.openApi();
    const keys = await api.listOrgKeys();
    if (keys.length === 0 && this.outputFormat === 'table') this.notice(`Org ${api.connection.org} has no keys yet: the first \`vesslctl secret create\` makes one.`);
    return this.print(keys, (list) =>
      list.length === 0
        ? ''
        : formatTable(
            ['KEY ID', 'STATE', 'CREATED', 'RETIRED'],
            list.map((k) => [k.keyId, k.state, formatTime(k.createTime), formatTime(k.retireTime)]),
          ),
      (k) => k.keyId,
    );
  }
}
