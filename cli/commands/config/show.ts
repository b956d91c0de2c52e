import { BaseCommand } from '../../base-command.js';
import { formatFields } from '../../output.js';
import { configDir, configFilePath, readConfigFile, type ConfigFile } from '../../settings.js';
import { maskToken } from '../../../services/runtime/token-claims.js';

export interface ConfigShowResult extends ConfigFile {
  configFile: string;
}

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override summary = 'Show what the config file holds (the token masked).';
  static override description =
    'Flags and VESSLCTL_ENDPOINT, VESSLCTL_ACCESS_TOKEN, VESSLCTL_ORG override these values; `vesslctl auth status` shows the ones in effect.';

  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show -o json'];

  async run(): Promise<ConfigShowResult> {
    const dir = configDir();
    const { endpoint, org, token } = readConfigFile(dir);
    const result: ConfigShowResult = {
      configFile: configFilePath(dir),
      endpoint,
      org,
      token: token === undefined ? undefined : maskToken(token),
    };
    return this.print(result, (r) =>
      formatFields([
        ['endpoint', r.endpoint ?? '(not set)'],
        ['org', r.org ?? '(not set)'],
        ['token', r.token ?? '(not set)'],
        ['file', r.configFile],
      ]),
    );
  }
}
