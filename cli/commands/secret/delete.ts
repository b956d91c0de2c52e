import { Args, Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import type { SecretJson } from '../../secrets-api.js';
import { requireConfirmation } from '../../terminal.js';

export default class SecretDelete extends BaseCommand<typeof SecretDelete> {
  static override aliases = ['secret:rm'];
  static override summary = 'Delete a secret: its value is destroyed at once, its metadata kept for audit.';
  static override description =
    'The name is free for a new secret right away. Jobs that reference the secret can no longer start. Asks for confirmation unless --yes.';

  static override examples = ['<%= config.bin %> secret delete HF_TOKEN', '<%= config.bin %> secret delete old-db-url --yes'];

  static override args = {
    name: Args.string({ required: true, description: 'Name of the secret to delete.' }),
  };

  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation (required when not on a terminal).' }),
  };

  async run(): Promise<SecretJson> {
    const { name } = this.args;
    const api = await this.openApi();
    const question = `Delete secret "${name}" in org ${api.connection.org}? Its value is destroyed and cannot be recovered.`;
    await requireConfirmation(question, { yes: this.flags.yes, action: 'delete', nothing: 'nothing was deleted' });
    const secret = await api.deleteSecret(name);
    return this.print(secret, (s) => `Deleted secret ${s.name} in org ${s.org}; its value is destroyed.`, (s) => s.name);
  }
}
