import { Args, Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import type { OrgKeyJson } from '../../secrets-api.js';
import { requireConfirmation } from '../../terminal.js';

export default class OrgRetireKey extends BaseCommand<typeof OrgRetireKey> {
  static override summary = 'Retire a previous org key: values sealed under it are refused from then on (org admins).';
  static override description =
    'Only a previous key can be retired (rotate first to replace the primary). Clients that still have the retired key cached are told to refetch the public key, and vesslctl reseals and retries by itself. Retiring a retired key changes nothing. Asks for confirmation unless --yes.';

  static override examples = ['<%= config.bin %> org retire-key ok_Qm9vX2tleV9pZF8x', '<%= config.bin %> org retire-key ok_Qm9vX2tleV9pZF8x --yes'];

  static override args = {
    key_id: Args.string({ required: true, description: 'The key to retire, as `vesslctl org keys` lists it.' }),
  };

  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation (required when not on a terminal).' }),
  };

  async run(): Promise<OrgKeyJson> {
    const keyId = this.args.key_id;
    const api = await this.openApi();
    const question = `Retire org key ${keyId} of org ${api.connection.org}? Values sealed under it are refused from then on.`;
    await requireConfirmation(question, { yes: this.flags.yes, action: 'retire an org key', nothing: 'nothing was retired' });
    const key = await api.retireOrgKey(keyId);
    return this.print(key, (k) => `Retired org key ${k.keyId} of org ${k.org}: values sealed under it are refused from now on.`, (k) => k.keyId);
  }
}
