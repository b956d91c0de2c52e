import { Args } from '../../oclif.js';
import { ExecCommand } from '../../exec-command.js';

export default class WorkspaceShell extends ExecCommand<typeof WorkspaceShell> {
  static override summary = 'Open an interactive shell in a running workspace (exec -i -t with the user\'s shell).';
  static override description = `The shell is bash when the workspace has it, else sh, with the workspace's environment and secrets. On a terminal every key, Ctrl-C included, goes to the shell, the remote terminal follows the local one's size, and \`exit N\` ends vesslctl with status N. With stdin not a terminal (a pipe) the shell reads its commands from it, without a terminal.`;

  static override examples = [
    '<%= config.bin %> workspace shell dev',
    { description: 'Commands from a pipe (no terminal)', command: 'printf \'ls -l /run/secrets\\n\' | <%= config.bin %> workspace shell dev' },
  ];

  static override args = {
    name: Args.string({ required: true, description: 'Workspace name.' }),
  };

  async run(): Promise<void> {
    await this.execInWorkspace({ name: this.args.name, command: [], tty: true, stdin: true, warnWithoutTerminal: false });
  }
}
