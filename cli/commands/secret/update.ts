import { Args, Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { CommandError } from '../../errors.js';
import { sealAndSend } from '../../sealing.js';
import { checkSecretKeyRisk } from '../../secret-key.js';
import type { SecretJson } from '../../secrets-api.js';
import { isInteractive } from '../../terminal.js';
import { chosenValueSource, valueSourceFlags, type ValueSource } from '../../value-source.js';

export default class SecretUpdate extends BaseCommand<typeof SecretUpdate> {
  static override summary = 'Rotate a secret\'s value, rename its KEY, or edit its description.';
  static override description = `Only what you give changes. A value source (--from-stdin, --from-env, --from-file or --value) rotates the value: it is sealed on this machine, the version goes up by one and the old value is destroyed. On a terminal, with nothing else given, it prompts for the new value (input hidden). Running jobs keep the value they started with.`;

  static override examples = [
    {
      description: 'Rotate the value, typed at a hidden prompt',
      command: '<%= config.bin %> secret update HF_TOKEN',
    },
    {
      description: 'Rotate the value from a file',
      command: '<%= config.bin %> secret update db-client-key --from-file ./new-client.key',
    },
    {
      description: 'Inject under another variable name and fix the description',
      command: '<%= config.bin %> secret update HF_TOKEN --key HUGGING_FACE_HUB_TOKEN --description "read-only token"',
    },
  ];

  static override args = {
    name: Args.string({ required: true, description: 'Name of the secret to change.' }),
  };

  static override flags = {
    ...valueSourceFlags,
    key: Flags.string({ char: 'k', description: 'New environment variable name for the value.', helpValue: 'KEY' }),
    description: Flags.string({ char: 'd', description: 'New description ("" clears it).', helpValue: 'D' }),
  };

  async run(): Promise<SecretJson> {
    const { name } = this.args;
    const { key, description } = this.flags;
    if (key !== undefined) checkSecretKeyRisk(key);
    // Nothing given on a terminal: the value is what people rotate most, so ask for it.
    const nothingElse = key === undefined && description === undefined;
    const source: ValueSource | undefined = chosenValueSource(this.flags) ?? (nothingElse && isInteractive() ? { kind: 'prompt' } : undefined);
    const updateMask = [
      ...(key !== undefined ? ['key'] : []),
      ...(description !== undefined ? ['description'] : []),
      ...(source ? ['value'] : []),
    ];
    if (updateMask.length === 0) {
      throw new CommandError('nothing to update: give --key, --description, or a new value with --from-stdin, --from-env, --from-file or --value');
    }
    const api = await this.openApi();
    const fields = { name, key, description };
    const secret = source
      ? await sealAndSend(api, source, { warn: (m) => this.notice(m), promptLabel: `New value for secret "${name}"` }, (sealed) =>
          api.updateSecret(fields, sealed, updateMask),
        )
      : await api.updateSecret(fields, undefined, updateMask);
    return this.print(secret, (s) => `Updated secret ${s.name} (${updateMask.join(', ')}): key ${s.key}, version ${s.version ?? 0}.`, (s) => s.name);
  }
}
