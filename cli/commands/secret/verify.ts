import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { EXIT } from '../../exit-codes.js';
import { sealAndSend } from '../../sealing.js';
import type { VerificationJson } from '../../secrets-api.js';
import { requiredValueSource, valueSourceFlags } from '../../value-source.js';

export default class SecretVerify extends BaseCommand<typeof SecretVerify> {
  static override summary = 'Check whether a value is a secret\'s current value, without either being shown (org admins).';
  static override description = `The candidate is read like a new value (exactly one of --from-stdin, --from-env, --from-file or --value, or a hidden prompt), sealed on this machine, and compared by keyed fingerprint with the stored value. Exits 0 when it matches and 1 when it does not (3 when there is no such secret, 5 when the server cannot be reached: see \`vesslctl help exit-codes\`), so scripts can test it. Every check is recorded in the audit log.`;

  static override examples = [
    {
      description: 'Is the token in the environment the one the platform injects?',
      command: '<%= config.bin %> secret verify HF_TOKEN --from-env HF_TOKEN',
    },
    {
      description: 'In a script',
      command: 'if <%= config.bin %> secret verify db-url --from-file ./db-url.txt; then echo up to date; fi',
    },
  ];

  static override args = {
    name: Args.string({ required: true, description: 'Name of the secret to check against.' }),
  };

  static override flags = { ...valueSourceFlags };

  async run(): Promise<VerificationJson> {
    const { name } = this.args;
    const source = requiredValueSource(this.flags);
    const api = await this.openApi();
    const io = { warn: (message: string) => this.notice(message), promptLabel: `Value to check against secret "${name}"` };
    const result = await sealAndSend(api, source, io, (sealed) => api.verifySecretValue(name, sealed));
    await this.print(result, (r) => `${r.matches ? 'matches' : 'does not match'} version ${r.version} of secret ${r.name}`);
    if (!result.matches) this.exit(EXIT.NEGATIVE);
    return result;
  }
}
