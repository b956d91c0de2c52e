import { BaseCommand } from '../../base-command.js';
import { formatFields } from '../../output.js';
import { profileNames, readConfigFile } from '../../settings.js';
import { maskToken } from '../../../services/runtime/token-claims.js';

/** One profile's saved settings; a setting not saved is "" (the JSON has every field). */
export interface ConfigShowResult {
  profile: string;
  /** Every profile that has settings, default first. */
  profiles: string[];
  endpoint: string;
  org: string;
  /** Masked. */
  token: string;
  caCert: string;
  configFile: string;
}

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override summary = 'Show what the config file holds for the profile in use (the token masked).';
  static override description =
    'Flags and VESSLCTL_ENDPOINT, VESSLCTL_ACCESS_TOKEN, VESSLCTL_ORG override these values; `vesslctl auth status` shows the ones in effect. --profile shows another profile; `vesslctl config use NAME` switches profiles.';

  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --profile staging -o json'];

  async run(): Promise<ConfigShowResult> {
    const { configDir, configFile, profile } = this.settings;
    const { endpoint, org, token, 'ca-cert': caCert } = readConfigFile(configDir, profile.value);
    const result: ConfigShowResult = {
      profile: profile.value,
      profiles: profileNames(configDir),
      endpoint: endpoint ?? '',
      org: org ?? '',
      token: token === undefined ? '' : maskToken(token),
      caCert: caCert ?? '',
      configFile,
    };
    const shown = (value: string) => (value === '' ? '(not set)' : value);
    return this.print(result, (r) =>
      formatFields([
        ['profile', `${r.profile} (${profile.source})`],
        ['endpoint', shown(r.endpoint)],
        ['org', shown(r.org)],
        ['token', shown(r.token)],
        ['ca-cert', shown(r.caCert)],
        ['profiles', r.profiles.join(', ')],
        ['file', r.configFile],
      ]),
    );
  }
}
