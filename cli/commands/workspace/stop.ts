import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import type { WorkspaceJson } from '../../workspaces-api.js';

export default class WorkspaceStop extends BaseCommand<typeof WorkspaceStop> {
  static override summary = 'Stop a workspace: its processes end, its files stay for the next start.';
  static override examples = ['<%= config.bin %> workspace stop dev'];

  static override args = {
    name: Args.string({ required: true, description: 'Workspace name.' }),
  };

  async run(): Promise<WorkspaceJson> {
    const api = await this.openWorkspacesApi();
    const workspace = await api.stopWorkspace(this.args.name);
    return this.print(workspace, (w) => `Workspace ${w.name} is ${w.state}; \`vesslctl workspace start ${w.name}\` starts it again with the secrets' current values.`, (w) => w.name);
  }
}
