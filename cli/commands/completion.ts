import { Args, Command } from '../oclif.js';
import { COMPLETION_SCRIPTS, SHELLS } from '../completion.js';

export default class Completion extends Command {
  static override summary = 'Print the shell completion script for bash, zsh or fish (commands, flags, secret names, job ids).';
  static override description =
    'The script asks vesslctl what may come next on every Tab: commands and aliases, flags and the values an option takes, and from the server the org\'s secret names, job ids, org key ids and master key versions (nothing when the server cannot be reached).';
  static override examples = [
    { description: 'bash: in ~/.bashrc', command: 'source <(<%= config.bin %> completion bash)' },
    { description: 'zsh: in ~/.zshrc', command: 'source <(<%= config.bin %> completion zsh)' },
    { description: 'fish', command: '<%= config.bin %> completion fish > ~/.config/fish/completions/vesslctl.fish' },
  ];
  static override args = { shell: Args.string({ required: true, options: SHELLS, description: 'The shell.' }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Completion);
    process.stdout.write(COMPLETION_SCRIPTS[args.shell as keyof typeof COMPLETION_SCRIPTS]);
  }
}
