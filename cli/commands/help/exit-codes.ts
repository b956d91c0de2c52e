import { Command } from '../../oclif.js';
import { renderExitCodes } from '../../exit-codes.js';

export default class HelpExitCodes extends Command {
  static override summary = 'What vesslctl\'s exit statuses mean, for scripts.';
  static override description = 'Every vesslctl command ends with one of these statuses; an error line on stderr says more.';
  static override examples = ['<%= config.bin %> help exit-codes'];

  async run(): Promise<void> {
    this.log(`STATUS  MEANING\n${renderExitCodes()}`);
  }
}
