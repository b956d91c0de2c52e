import { Args, Flags } from '../../oclif.js';
import { CommandError } from '../../errors.js';
import { ExecCommand } from '../../exec-command.js';

export default class WorkspaceExec extends ExecCommand<typeof WorkspaceExec> {
  static override summary = 'Run a command in a running workspace, with its environment and secrets.';
  static override description = `Everything after -- is the command and its arguments (no shell is involved: use sh -c '...' for one). Its exit status is vesslctl's (128 + N when signal N ended it).
Without -t: its stdout and stderr go to vesslctl's, and with -i vesslctl's stdin is streamed to it (without -i it reads end of file). With -i -t on a terminal: it gets a terminal of the local one's size (kept in step when the window is resized); every key, Ctrl-C included, goes to it, and the local terminal is put back as it was when it ends. Output is masked as job logs are.`;

  static override usage = 'workspace exec NAME [-i] [-t] -- CMD [ARGS...]';

  static override examples = [
    { description: 'A one-off command; its exit status is vesslctl\'s', command: '<%= config.bin %> workspace exec dev -- python -c "import torch; print(torch.__version__)"' },
    { description: 'A file into the workspace through stdin', command: '<%= config.bin %> workspace exec dev -i -- sh -c \'cat > data.csv\' < data.csv' },
    { description: 'An interactive program on a terminal', command: '<%= config.bin %> workspace exec dev -it -- python' },
  ];

  static override args = {
    name: Args.string({ required: true, description: 'Workspace name (before --).' }),
  };

  static override flags = {
    stdin: Flags.boolean({ char: 'i', description: 'Stream stdin to the command.' }),
    tty: Flags.boolean({ char: 't', description: 'Give the command a terminal (with -i, on a terminal).' }),
  };

  /** The words after the first `--`: parsed by nobody (they are the remote command's own). */
  private remoteCommand: string[] = [];

  override async init(): Promise<void> {
    const dash = this.argv.indexOf('--');
    if (dash >= 0) {
      this.remoteCommand = this.argv.slice(dash + 1);
      this.argv = this.argv.slice(0, dash);
    }
    await super.init();
  }

  async run(): Promise<void> {
    if (this.remoteCommand.length === 0) {
      throw new CommandError(`a command is needed after --: vesslctl workspace exec ${this.args.name} -- CMD [ARGS...] (or \`vesslctl workspace shell ${this.args.name}\`)`);
    }
    await this.execInWorkspace({ name: this.args.name, command: this.remoteCommand, tty: this.flags.tty, stdin: this.flags.stdin, warnWithoutTerminal: true });
  }
}
