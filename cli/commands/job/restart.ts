import { Args, Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { jobSummary, latestAttempt } from '../../job-format.js';
import type { JobJson } from '../../jobs-api.js';

export default class JobRestart extends BaseCommand<typeof JobRestart> {
  static override summary = 'Start a new attempt of a job with the secrets\' current values.';
  static override description =
    'A running attempt is stopped first. The new attempt reads every secret again, so it picks up rotated values; a secret deleted since makes the restart fail and nothing runs.';

  static override examples = ['<%= config.bin %> job restart j_4f2c9a1b7d0e3a5c', '<%= config.bin %> job restart j_4f2c9a1b7d0e3a5c -o json'];

  static override args = {
    id: Args.string({ required: true, description: 'Job id.' }),
  };

  static override flags = {
    quiet: Flags.boolean({ char: 'q', description: 'Print only the job id.' }),
  };

  async run(): Promise<JobJson> {
    const api = await this.openJobsApi();
    const { job, warnings } = await api.restartJob(this.args.id);
    // Warnings go to stderr: -o json prints the bare job.
    for (const warning of warnings) this.notice(`warning: ${warning}`);
    if (this.flags.quiet) {
      this.log(job.id);
      return job;
    }
    return this.print(job, (job) => {
      const attempt = latestAttempt(job)?.number ?? '?';
      return `Restarted job ${job.id} (${job.name}): attempt ${attempt} runs with the secrets' current values.\n${jobSummary(job)}`;
    }, (j) => j.id);
  }
}
