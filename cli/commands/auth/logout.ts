import { BaseCommand } from '../../base-command.js';
import { readConfigFile, writeConfigFile } from '../../settings.js';

export interface LogoutResult {
  /** Whether a token was removed from the config file (false: none was saved). */
  removed: boolean;
  configFile: string;
}

export default class AuthLogout extends BaseCommand<typeof AuthLogout> {
  static override summary = 'Remove the saved access token from the config file (the endpoint and org stay).';
  static override description =
    'Nothing is sent to the server: the token stays valid until it expires. Logging out when no token is saved changes nothing. A token in VESSLCTL_ACCESS_TOKEN is not touched; unset it yourself.';

  static override examples = ['<%= config.bin %> auth logout', '<%= config.bin %> auth logout --profile staging'];

  async run(): Promise<LogoutResult> {
    const { configDir, profile } = this.settings;
    const { token, ...rest } = readConfigFile(configDir, profile.value);
    const configFile = token === undefined ? this.settings.configFile : writeConfigFile(configDir, rest, profile.value);
    if (process.env.VESSLCTL_ACCESS_TOKEN) this.notice('warning: VESSLCTL_ACCESS_TOKEN is set and still applies: unset it too');
    return this.print({ removed: token !== undefined, configFile }, (r) =>
      r.removed ? `Logged out: the token is removed from ${r.configFile}.` : `No token was saved in ${r.configFile}; nothing changed.`,
    );
  }
}
