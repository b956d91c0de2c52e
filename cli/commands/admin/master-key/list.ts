import { BaseCommand } from '../../../base-command.js';
import type { MasterKeyJson } from '../../../admin-api.js';
import { formatTable, formatTime } from '../../../output.js';

export default class MasterKeyList extends BaseCommand<typeof MasterKeyList> {
  static override aliases = ['admin:master-key:ls'];
  static override summary = 'List master key versions, their state and how many wrapped keys each still protects (operators).';
  static override examples = ['<%= config.bin %> admin master-key list', '<%= config.bin %> admin master-key list -o json'];

  async run(): Promise<MasterKeyJson[]> {
    const api = await this.openAdminApi();
    const keys = await api.listMasterKeys();
    return this.print(keys, (list) =>
      formatTable(
        ['VERSION', 'STATE', 'PRIMARY', 'ORG KEYS', 'DATA KEYS', 'CREATED'],
        list.map((k) => [String(k.version), k.state, k.primary ? 'yes' : '', String(k.wrappedOrgKeys), String(k.wrappedDataKeys), formatTime(k.createTime)]),
      ),
      (k) => String(k.version),
    );
  }
}
