import { Args, Command, Help } from '../oclif.js';
import { renderExitCodes } from '../exit-codes.js';

/**
 * `vesslctl help [COMMAND...]`, and `vesslctl help exit-codes`. vesslctl's own, on oclif's Help
 * class, in place of @oclif/plugin-help: a plugin is loaded from node_modules by file, and the
 * installed vesslctl is one bundle with no node_modules (scripts/pack-cli.ts).
 */
export default class HelpCommand extends Command {
  static override summary = 'Help for vesslctl, a topic or a command; `vesslctl help exit-codes` explains the exit statuses.';
  static override examples = ['<%= config.bin %> help secret create', '<%= config.bin %> help exit-codes'];
  static override strict = false;
  static override args = { command: Args.string({ description: 'The command or topic (or exit-codes).' }) };

  async run(): Promise<void> {
    const { argv } = await this.parse(HelpCommand);
    if (argv.length === 1 && argv[0] === 'exit-codes') {
      this.log(`Every vesslctl command ends with one of these statuses; its error line on stderr says more.\n\nSTATUS  MEANING\n${renderExitCodes()}`);
      return;
    }
    await new Help(this.config).showHelp(argv as string[]);
  }
}
