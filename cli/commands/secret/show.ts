import { Args } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { formatFields, formatTime } from '../../output.js';
import type { SecretJson } from '../../secrets-api.js';

export default class SecretShow extends BaseCommand<typeof SecretShow> {
  static override summary = 'Show a secret\'s metadata (never its value).';
  static override examples = ['<%= config.bin %> secret show HF_TOKEN', '<%= config.bin %> secret show HF_TOKEN -o yaml'];

  static override args = {
    name: Args.string({ required: true, description: 'Name of the secret.' }),
  };

  async run(): Promise<SecretJson> {
    const api = await this.openApi();
    const secret = await api.getSecret(this.args.name);
    return this.print(secret, secretFields);
  }
}

export function secretFields(s: SecretJson): string {
  const by = (time: string | undefined, who: string | undefined) =>
    time ? `${formatTime(time)}${who ? ` by ${who}` : ''}` : undefined;
  return formatFields([
    ['name', s.name],
    ['org', s.org],
    ['key', s.key],
    ['description', s.description],
    ['version', s.version],
    ['state', s.state?.replace(/^STATE_/, '').toLowerCase()],
    ['uid', s.uid],
    ['created', by(s.createTime, s.createBy)],
    ['updated', by(s.updateTime, s.updateBy)],
    ['value set', formatTime(s.valueUpdateTime)],
    ['deleted', by(s.deleteTime, s.deleteBy)],
  ]);
}
