import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { injectionFlags, injectionsOf } from '../../injection-flags.js';
import { shellCommandOf, workspaceSummary } from '../../workspace-format.js';
import type { WorkspaceJson } from '../../workspaces-api.js';

export default class WorkspaceCreate extends BaseCommand<typeof WorkspaceCreate> {
  static override summary = 'Create and start a workspace: a long-lived environment to open shells in, with org secrets.';
  static override description = `Secrets go in exactly as they go into a job: --secret NAME (under its KEY) or --secret KEY=NAME as environment variables, --secret-file PATH=NAME as a read-only file (under /run/secrets/, or on the local backend the workspace's HOME /home/job/). --env, --secret and --secret-file can be given many times.
A file secret is rewritten inside the running workspace when the secret is rotated (and removed when it is deleted); a variable keeps the value the workspace started with until \`vesslctl workspace stop\` and \`start\`.
Without --cmd the workspace idles until it is stopped; open a terminal in it with \`vesslctl workspace shell NAME\`.`;

  static override examples = [
    {
      description: 'A workspace with a token as a variable and a service-account key as a file',
      command: '<%= config.bin %> workspace create -n dev -i python:3.12 --secret HF_TOKEN --secret-file /run/secrets/gcp.json=gcp-sa-key',
    },
    { description: 'Its main process, run with /bin/sh -c (the workspace stops when it ends)', command: '<%= config.bin %> workspace create -n notebook -i jupyter/base-notebook --cmd "jupyter lab" --env PORT=8888' },
    { description: 'As JSON, for scripts', command: '<%= config.bin %> workspace create -n dev -i python:3.12 -o json' },
  ];

  static override flags = {
    quiet: Flags.boolean({ char: 'q', description: 'Print only the workspace name.' }),
    name: Flags.string({ char: 'n', required: true, description: 'Workspace name, unique in the org: letters, digits, ".", "_", "-".', helpValue: 'NAME' }),
    image: Flags.string({ char: 'i', required: true, description: 'Container image to run the workspace in.', helpValue: 'IMAGE' }),
    cmd: Flags.string({ description: 'Its main process, run with /bin/sh -c. [default: none: it idles until stopped]', helpValue: '"CMD"' }),
    ...injectionFlags,
  };

  async run(): Promise<WorkspaceJson> {
    const { name, image, cmd } = this.flags;
    const spec = { name, image, command: cmd ?? '', ...injectionsOf(this.flags) };
    const api = await this.openWorkspacesApi();
    const { workspace, warnings } = await api.createWorkspace(spec);
    // Warnings go to stderr: -o json prints the bare workspace, as every create does.
    for (const warning of warnings) this.notice(`warning: ${warning}`);
    if (this.flags.quiet) {
      this.log(workspace.name);
      return workspace;
    }
    return this.print(
      workspace,
      (w) => `Created workspace ${w.name} in org ${w.org}.\n${workspaceSummary(w)}\n\nOpen a shell in it: ${shellCommandOf(w)}`,
      (w) => w.name,
    );
  }
}
