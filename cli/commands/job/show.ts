import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { jobDetails } from '../../job-format.js';
import type { JobJson } from '../../jobs-api.js';

export default class JobShow extends BaseCommand<typeof JobShow> {
  static override aliases = ['job:get'];
  static override summary = 'Show a job, its attempts, and the secret versions each attempt got.';
  static override description =
    'An injected secret whose value has been rotated (or deleted) since the attempt started is marked stale: `vesslctl job restart ID` starts a new attempt with the current values.';

  static override examples = ['<%= config.bin %> job show j_4f2c9a1b7d0e3a5c', '<%= config.bin %> job show j_4f2c9a1b7d0e3a5c -o yaml'];

  static override args = {
    id: Args.string({ required: true, description: 'Job id (from `vesslctl job list`).' }),
  };

  async run(): Promise<JobJson> {
    const api = await this.openJobsApi();
    const job = await api.getJob(this.args.id);
    return this.print(job, jobDetails, (j) => j.id);
  }
}
