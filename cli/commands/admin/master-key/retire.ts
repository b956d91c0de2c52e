import { Args, Flags } from '../../../oclif.js';
import { BaseCommand } from '../../../base-command.js';
import type { MasterKeyJson } from '../../../admin-api.js';
import { CommandError } from '../../../errors.js';
import { requireConfirmation } from '../../../terminal.js';

export default class MasterKeyRetire extends BaseCommand<typeof MasterKeyRetire> {
  static override summary = 'Destroy an old master key version once nothing references it (operators).';
  static override description =
    'Refused while any org key or data key is still wrapped by the version (run a rewrap first), and for the primary. The key material is destroyed and cannot be recovered: asks for confirmation unless --yes.';
  static override examples = ['<%= config.bin %> admin master-key retire 1', '<%= config.bin %> admin master-key retire 1 --yes'];
  static override args = { version: Args.string({ required: true, description: 'Master key version.' }) };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation (required when not on a terminal).' }),
  };

  async run(): Promise<MasterKeyJson> {
    const version = Number(this.args.version);
    if (!Number.isInteger(version) || version < 1) throw new CommandError(`"${this.args.version}" is not a master key version (1, 2, ...)`);
    const api = await this.openAdminApi();
    const question = `Destroy master key version ${version}? Its key material cannot be recovered.`;
    await requireConfirmation(question, { yes: this.flags.yes, action: 'destroy a master key version', nothing: 'nothing was destroyed' });
    const key = await api.retireMasterKey(version);
    return this.print(key, (k) => `Master key version ${k.version} is destroyed.`, (k) => String(k.version));
  }
}
