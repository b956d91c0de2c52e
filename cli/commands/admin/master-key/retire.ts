import { Args } from '../../../oclif.js';
import { BaseCommand } from '../../../base-command.js';
import type { MasterKeyJson } from '../../../admin-api.js';
import { CommandError } from '../../../errors.js';

export default class MasterKeyRetire extends BaseCommand<typeof MasterKeyRetire> {
  static override summary = 'Destroy an old master key version once nothing references it (operators).';
  static override description = 'Refused while any org key or data key is still wrapped by the version (run a rewrap first), and for the primary.';
  static override examples = ['<%= config.bin %> admin master-key retire 1'];
  static override args = { version: Args.string({ required: true, description: 'Master key version.' }) };

  async run(): Promise<MasterKeyJson> {
    const version = Number(this.args.version);
    if (!Number.isInteger(version) || version < 1) throw new CommandError(`"${this.args.version}" is not a master key version (1, 2, ...)`);
    const api = await this.openAdminApi();
    const key = await api.retireMasterKey(version);
    return this.print(key, (k) => `Master key version ${k.version} is destroyed.`);
  }
}
