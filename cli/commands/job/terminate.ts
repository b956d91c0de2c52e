import { Args } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { latestAttempt } from '../../job-format.js';
import type { JobJson } from '../../jobs-api.js';

export default class JobTerminate extends BaseCommand<typeof JobTerminate> {
  static override summary = 'Stop a job\'s running attempt; the job ends cancelled.';
  static override examples = ['<%= config.bin %> job terminate j_4f2c9a1b7d0e3a5c'];

  static override args = {
    id: Args.string({ required: true, description: 'Job id.' }),
  };

  async run(): Promise<JobJson> {
    const api = await this.openJobsApi();
    const job = await api.terminateJob(this.args.id);
    return this.print(job, (j) => {
      const attempt = latestAttempt(j)?.number;
      return `Job ${j.id} (${j.name}) is ${j.state}${attempt === undefined ? '' : ` (attempt ${attempt})`}.`;
    }, (j) => j.id);
  }
}
