import { BaseCommand } from '../base-command.js';
import { COMMANDS } from '../commands.js';
import { complete, type CompletableCommand, type DynamicValues } from '../completion.js';
import { profileNames } from '../settings.js';

/** Lists fetched for a completion: one page is plenty to choose from. */
const PAGE_SIZE = 200;

export default class Complete extends BaseCommand<typeof Complete> {
  static override hidden = true;
  static override strict = false;
  static override summary = 'What may come next on a command line (for the completion scripts).';
  static override examples = ['<%= config.bin %> __complete secret show H'];

  /**
   * The words are a command line being typed, not this command's flags: none is parsed (a
   * half-typed --or must not fail as an unknown flag). Settings come from env and the config.
   */
  override async init(): Promise<void> {
    this.flags = { json: false } as typeof this.flags;
    this.args = {} as typeof this.args;
  }

  async run(): Promise<void> {
    const words = this.argv.length === 0 ? [''] : this.argv;
    const values: DynamicValues = {
      secretNames: async () => (await (await this.openApi()).listSecrets({ pageSize: PAGE_SIZE, pageToken: '', showDeleted: false })).secrets.map((s) => s.name),
      jobIds: async () => (await (await this.openJobsApi()).listJobs({ pageSize: PAGE_SIZE, pageToken: '' })).jobs.map((j) => j.id),
      workspaceNames: async () => (await (await this.openWorkspacesApi()).listWorkspaces({ pageSize: PAGE_SIZE, pageToken: '' })).workspaces.map((w) => w.name),
      orgKeyIds: async () => (await (await this.openApi()).listOrgKeys()).map((k) => k.keyId),
      masterKeyVersions: async () => (await (await this.openAdminApi()).listMasterKeys()).map((k) => String(k.version)),
      profiles: async () => profileNames(this.settings.configDir),
    };
    const candidates = await complete(words, COMMANDS as unknown as Record<string, CompletableCommand>, BaseCommand.baseFlags, values);
    if (candidates.length > 0) process.stdout.write(`${candidates.join('\n')}\n`);
  }
}
