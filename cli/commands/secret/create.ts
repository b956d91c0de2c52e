import { Args, Flags } from '../../oclif.js';
import { isValidKey, KEY_PATTERN } from '../../../services/secret-store/rules.js';
import { BaseCommand } from '../../base-command.js';
import { CommandError } from '../../errors.js';
import { sealAndSend } from '../../sealing.js';
import { checkSecretKeyRisk } from '../../secret-key.js';
import type { SecretJson } from '../../secrets-api.js';
import { requiredValueSource, valueSourceFlags } from '../../value-source.js';

export default class SecretCreate extends BaseCommand<typeof SecretCreate> {
  static override summary = 'Create a secret; its value is sealed on this machine before it is sent.';
  static override description = `KEY is the environment variable a job gets the value in; it defaults to NAME when NAME is a valid variable name.
The value is taken byte for byte from exactly one of --from-stdin, --from-env, --from-file or --value; with none of them on a terminal you are prompted for it (nothing is echoed). It is sealed with the org public key (crypto_box_seal), so only the server's key-management can open it, and it is never shown again.`;

  static override examples = [
    {
      description: 'Prompt for the value (hidden); the job gets it as HF_TOKEN',
      command: '<%= config.bin %> secret create HF_TOKEN',
    },
    {
      description: 'A multi-line PEM key from a file, injected as DB_CLIENT_KEY',
      command: '<%= config.bin %> secret create db-client-key DB_CLIENT_KEY --from-file ./client.key --description "Postgres client cert key"',
    },
    {
      description: 'From another program, without the value touching the command line',
      command: 'op read op://ml/wandb/key | <%= config.bin %> secret create WANDB_API_KEY --from-stdin',
    },
  ];

  static override args = {
    name: Args.string({ required: true, description: 'Secret name, unique in the org: letters, digits, ".", "_", "-".' }),
    key: Args.string({ description: 'Environment variable name the value is injected as. [default: NAME]' }),
  };

  static override flags = {
    ...valueSourceFlags,
    description: Flags.string({ char: 'd', description: 'Free text, at most 1024 characters.', helpValue: 'D' }),
  };

  async run(): Promise<SecretJson> {
    const { name } = this.args;
    const key = this.args.key ?? defaultKey(name);
    checkSecretKeyRisk(key);
    const source = requiredValueSource(this.flags);
    const api = await this.openApi();
    const fields = { name, key, description: this.flags.description ?? '' };
    const io = { warn: (message: string) => this.notice(message), promptLabel: `Value for secret "${name}"` };
    const secret = await sealAndSend(api, source, io, (sealed) => api.createSecret(fields, sealed));
    return this.print(secret, (s) => `Created secret ${s.name} (key ${s.key}, version ${s.version ?? 1}) in org ${s.org}.`, (s) => s.name);
  }
}

/** KEY defaults to NAME only when NAME already is a valid environment variable name. */
function defaultKey(name: string): string {
  if (isValidKey(name)) return name;
  const suggestion = name.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
  throw new CommandError(
    `KEY is required: NAME "${name}" is not an environment variable name (${KEY_PATTERN.source}); ` +
      `e.g. \`vesslctl secret create ${name} ${suggestion} ...\``,
  );
}
