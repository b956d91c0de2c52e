import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { shellCommandOf, workspaceSummary } from '../../workspace-format.js';
import type { WorkspaceJson } from '../../workspaces-api.js';

export default class WorkspaceStart extends BaseCommand<typeof WorkspaceStart> {
  static override summary = 'Start a stopped workspace with the secrets\' current values.';
  static override description = 'A new run begins: every secret is read again, so variables that were stale get the current version. A secret deleted since makes the start fail.';
  static override examples = ['<%= config.bin %> workspace start dev'];

  static override args = {
    name: Args.string({ required: true, description: 'Workspace name.' }),
  };

  async run(): Promise<WorkspaceJson> {
    const api = await this.openWorkspacesApi();
    const { workspace, warnings } = await api.startWorkspace(this.args.name);
    for (const warning of warnings) this.notice(`warning: ${warning}`);
    return this.print(workspace, (w) => `Started workspace ${w.name} (run ${w.run}).\n${workspaceSummary(w)}\n\nOpen a shell in it: ${shellCommandOf(w)}`, (w) => w.name);
  }
}
