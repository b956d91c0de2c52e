import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { workspaceDetails } from '../../workspace-format.js';
import type { WorkspaceJson } from '../../workspaces-api.js';

export default class WorkspaceShow extends BaseCommand<typeof WorkspaceShow> {
  static override aliases = ['workspace:get'];
  static override summary = 'Show a workspace and the secret versions its current run holds.';
  static override description = `Each secret of the run: a variable as "env KEY ← NAME vN", marked stale once the secret is rotated or deleted (stop and start the workspace to refresh it); a file as "file PATH ← NAME vN, refreshed at T": it follows rotations while the workspace runs, and is removed when its secret is deleted.`;

  static override examples = ['<%= config.bin %> workspace show dev', '<%= config.bin %> workspace show dev -o yaml'];

  static override args = {
    name: Args.string({ required: true, description: 'Workspace name.' }),
  };

  async run(): Promise<WorkspaceJson> {
    const api = await this.openWorkspacesApi();
    return this.print(await api.getWorkspace(this.args.name), workspaceDetails, (w) => w.name);
  }
}
