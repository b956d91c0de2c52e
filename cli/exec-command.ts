// What `workspace exec` and `workspace shell` share: choosing between a terminal and plain
// streams as `kubectl exec` does, running the session, and ending with the remote exit status.
import { BaseCommand } from './base-command.js';
import { CommandError } from './errors.js';
import { runExecSession, signalExitCode } from './exec-session.js';
import type { Command } from './oclif.js';

export interface ExecRequestOptions {
  name: string;
  /** Empty: the workspace user's shell. */
  command: string[];
  /** -t: a terminal (only with -i and a terminal on stdin, as kubectl exec). */
  tty: boolean;
  /** -i: stream stdin to the command. */
  stdin: boolean;
  /** Say so when no terminal can be used (exec -t asked for one; shell uses one when it can). */
  warnWithoutTerminal: boolean;
}

export abstract class ExecCommand<T extends typeof Command> extends BaseCommand<T> {
  /**
   * Runs the command in the workspace with the local streams attached, then exits with its
   * status (128 + N after signal N; 130 when Ctrl-C stopped vesslctl itself without a terminal).
   */
  protected async execInWorkspace(request: ExecRequestOptions): Promise<void> {
    if (this.outputFormat !== 'table') {
      throw new CommandError(`-o ${this.outputFormat}: \`vesslctl ${this.id?.replaceAll(':', ' ')}\` writes the command's own output; leave -o out`);
    }
    const tty = this.terminalWanted(request);
    const api = await this.openWorkspacesApi();
    const end = await runExecSession(api, { name: request.name, command: request.command, stdin: request.stdin, tty });
    const code = 'exit' in end ? end.exit.code : 'signal' in end ? signalExitCode(end.signal) : 0;
    if (code !== 0) this.exit(code);
  }

  /** kubectl's rule: a terminal needs -i, and a terminal to read from; otherwise say so and use plain streams. */
  private terminalWanted({ tty, stdin, warnWithoutTerminal }: ExecRequestOptions): boolean {
    if (!tty) return false;
    if (!stdin) {
      this.notice('warning: -t needs -i (the terminal reads your keyboard): running without a terminal');
      return false;
    }
    if (!process.stdin.isTTY) {
      if (warnWithoutTerminal) this.notice('warning: unable to use a terminal: input is not a terminal; running without one');
      return false;
    }
    return true;
  }
}
