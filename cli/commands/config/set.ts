import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { CommandError } from '../../errors.js';
import { formatFields } from '../../output.js';
import { checkCaCert, checkEndpoint, CONFIG_KEYS, readConfigFile, writeConfigFile, type ConfigKey } from '../../settings.js';
import { readAllBytes } from '../../terminal.js';
import { maskToken } from '../../../services/runtime/token-claims.js';

export interface ConfigSetResult {
  key: ConfigKey;
  /** The token is shown masked. */
  value: string;
  profile: string;
  configFile: string;
}

export default class ConfigSet extends BaseCommand<typeof ConfigSet> {
  static override summary = 'Set one value in the config file: endpoint, org, token or ca-cert.';
  static override description =
    'Unlike `auth login`, nothing is checked against the server. A VALUE of "-" for token reads it from standard input, keeping it out of shell history.';

  static override examples = [
    '<%= config.bin %> config set endpoint 127.0.0.1:50051',
    '<%= config.bin %> config set org acme',
    '<%= config.bin %> config set ca-cert ./ca.pem',
    { description: 'Settings of another profile', command: '<%= config.bin %> config set endpoint secrets.staging.example.com:443 --profile staging' },
    { description: 'A token from a pipe', command: 'vessl-secrets token mint --org acme --role admin --subject me | <%= config.bin %> config set token -' },
  ];

  static override args = {
    key: Args.string({ required: true, options: [...CONFIG_KEYS], description: 'Which setting.' }),
    value: Args.string({ required: true, description: 'Its new value.' }),
  };

  async run(): Promise<ConfigSetResult> {
    const key = this.args.key as ConfigKey;
    const value = await checkedValue(key, this.args.value);
    const { configDir: dir, profile } = this.settings;
    const configFile = writeConfigFile(dir, { ...readConfigFile(dir, profile.value), [key]: value }, profile.value);
    const result: ConfigSetResult = { key, value: key === 'token' ? maskToken(value) : value, profile: profile.value, configFile };
    return this.print(result, (r) => formatFields([[r.key, r.value], ['profile', r.profile], ['file', r.configFile]]));
  }
}

async function checkedValue(key: ConfigKey, value: string): Promise<string> {
  switch (key) {
    case 'endpoint':
      return checkEndpoint(value);
    case 'org': {
      const { ORG_PATTERN } = await import('../../../services/runtime/auth.js');
      if (!ORG_PATTERN.test(value)) throw new CommandError(`org "${value}" must match ${ORG_PATTERN.source}`);
      return value;
    }
    case 'token': {
      const token = value === '-' ? (await readAllBytes(process.stdin, 16 * 1024, 'the token on standard input')).toString('utf8').trim() : value;
      if (token === '') throw new CommandError('the token is empty');
      return token;
    }
    case 'ca-cert':
      return checkCaCert(value);
  }
}
