import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { CommandError } from '../../errors.js';
import { checkProfileName, DEFAULT_PROFILE, profileNames, useProfile } from '../../settings.js';

export interface ConfigUseResult {
  profile: string;
  configFile: string;
}

export default class ConfigUse extends BaseCommand<typeof ConfigUse> {
  static override summary = 'Switch the config file\'s profile in use: later commands take its endpoint, org and token.';
  static override description =
    'A profile is created by saving settings to it (`vesslctl auth login --profile NAME`, `vesslctl config set KEY VALUE --profile NAME`). --profile and VESSLCTL_PROFILE override the profile in use for one command.';

  static override examples = ['<%= config.bin %> config use staging', '<%= config.bin %> config use default'];

  static override args = {
    name: Args.string({ required: true, description: 'The profile: default, or one that has settings.' }),
  };

  async run(): Promise<ConfigUseResult> {
    const name = checkProfileName(this.args.name);
    const { configDir } = this.settings;
    const known = profileNames(configDir);
    if (!known.includes(name)) {
      throw new CommandError(`no profile "${name}" (profiles: ${known.join(', ')}): create it with \`vesslctl auth login --profile ${name}\``);
    }
    const configFile = useProfile(configDir, name);
    return this.print({ profile: name, configFile }, (r) =>
      r.profile === DEFAULT_PROFILE ? `Using the default profile of ${r.configFile}.` : `Using profile ${r.profile} of ${r.configFile}.`,
    );
  }
}
