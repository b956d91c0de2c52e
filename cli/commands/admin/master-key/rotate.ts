import { BaseCommand } from '../../../base-command.js';
import type { MasterKeyJson } from '../../../admin-api.js';

export default class MasterKeyRotate extends BaseCommand<typeof MasterKeyRotate> {
  static override summary = 'Add a new primary master key version; new writes use it at once (operators).';
  static override description = 'Existing data keys stay wrapped by their old version until `vesslctl admin master-key rewrap` moves them.';
  static override examples = ['<%= config.bin %> admin master-key rotate'];

  async run(): Promise<MasterKeyJson> {
    const api = await this.openAdminApi();
    const key = await api.rotateMasterKey();
    return this.print(key, (k) => `Master key version ${k.version} is now the primary. Run \`vesslctl admin master-key rewrap\` to move existing keys to it.`, (k) => String(k.version));
  }
}
