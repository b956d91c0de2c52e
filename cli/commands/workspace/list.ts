import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { workspaceTable } from '../../workspace-format.js';
import type { WorkspaceJson } from '../../workspaces-api.js';

const PAGE_SIZE = 100;

export default class WorkspaceList extends BaseCommand<typeof WorkspaceList> {
  static override aliases = ['workspace:ls'];
  static override summary = 'List workspaces, newest first: your own (an admin sees the org\'s).';
  static override description = 'Reads every page unless --limit is given. --secret keeps the workspaces whose current run holds that secret.';

  static override examples = [
    '<%= config.bin %> workspace list',
    { description: 'Workspaces that hold HF_TOKEN', command: '<%= config.bin %> workspace list --secret HF_TOKEN' },
    { description: 'As JSON', command: '<%= config.bin %> workspace list -o json' },
  ];

  static override flags = {
    secret: Flags.string({ description: 'Only workspaces whose current run holds secret NAME.', helpValue: 'NAME' }),
    limit: Flags.integer({ description: 'List at most N workspaces.', min: 1, helpValue: 'N' }),
  };

  async run(): Promise<WorkspaceJson[]> {
    const { limit, secret } = this.flags;
    const api = await this.openWorkspacesApi();
    const workspaces: WorkspaceJson[] = [];
    let pageToken = '';
    do {
      const pageSize = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - workspaces.length);
      const page = await api.listWorkspaces({ pageSize, pageToken, secretName: secret });
      workspaces.push(...page.workspaces);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && (limit === undefined || workspaces.length < limit));
    if (limit !== undefined) workspaces.splice(limit);
    if (workspaces.length === 0 && this.outputFormat === 'table') {
      this.notice(`No workspaces${secret ? ` holding secret ${secret}` : ''} in org ${api.connection.org}.`);
    }
    return this.print(workspaces, (rows) => (rows.length === 0 ? '' : workspaceTable(rows)), (w) => w.name);
  }
}
