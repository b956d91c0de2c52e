import { Args, Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { requireConfirmation } from '../../terminal.js';

/** What `workspace delete -o json` prints: the workspace it deleted (the server answers with nothing more). */
export interface DeletedWorkspaceJson {
  org: string;
  name: string;
}

export default class WorkspaceDelete extends BaseCommand<typeof WorkspaceDelete> {
  static override aliases = ['workspace:rm'];
  static override summary = 'Stop a workspace and remove it with its files; its name is free again.';
  static override description = 'Asks for confirmation on a terminal unless --yes (required when not on a terminal).';
  static override examples = ['<%= config.bin %> workspace delete dev', '<%= config.bin %> workspace delete dev --yes'];

  static override args = {
    name: Args.string({ required: true, description: 'Workspace name.' }),
  };

  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Do not ask for confirmation (required when not on a terminal).' }),
  };

  async run(): Promise<DeletedWorkspaceJson> {
    const { name } = this.args;
    const api = await this.openWorkspacesApi();
    const question = `Delete workspace "${name}" in org ${api.connection.org}? Its processes end and its files are removed.`;
    await requireConfirmation(question, { yes: this.flags.yes, action: 'delete', nothing: 'nothing was deleted' });
    await api.deleteWorkspace(name);
    return this.print({ org: api.connection.org, name }, (w) => `Deleted workspace ${w.name} in org ${w.org}.`, (w) => w.name);
  }
}
