import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { JOB_STATES, jobTable } from '../../job-format.js';
import type { JobJson } from '../../jobs-api.js';

const PAGE_SIZE = 100;

export default class JobList extends BaseCommand<typeof JobList> {
  static override aliases = ['job:ls'];
  static override summary = 'List the org\'s jobs, newest first.';
  static override description =
    'Reads every page unless --limit is given. --state filters by the state of each job\'s latest attempt; --secret keeps the jobs whose latest attempt got that secret.';

  static override examples = [
    '<%= config.bin %> job list',
    { description: 'Running jobs that use HF_TOKEN', command: '<%= config.bin %> job list --state running --secret HF_TOKEN' },
    { description: 'The 10 newest jobs as JSON', command: '<%= config.bin %> job list --limit 10 -o json' },
  ];

  static override flags = {
    state: Flags.option({ options: JOB_STATES, description: 'Only jobs in this state.' })(),
    secret: Flags.string({ description: 'Only jobs whose latest attempt got secret NAME.', helpValue: 'NAME' }),
    limit: Flags.integer({ description: 'List at most N jobs.', min: 1, helpValue: 'N' }),
  };

  async run(): Promise<JobJson[]> {
    const { limit, state, secret } = this.flags;
    const api = await this.openJobsApi();
    const jobs: JobJson[] = [];
    let pageToken = '';
    do {
      const pageSize = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - jobs.length);
      const page = await api.listJobs({ pageSize, pageToken, state, secretName: secret });
      jobs.push(...page.jobs);
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && (limit === undefined || jobs.length < limit));
    if (limit !== undefined) jobs.splice(limit);
    if (jobs.length === 0 && this.outputFormat === 'table') {
      const filters = [state && `in state ${state}`, secret && `using secret ${secret}`].filter(Boolean).join(' ');
      this.notice(`No jobs${filters ? ` ${filters}` : ''} in org ${api.connection.org}.`);
    }
    return this.print(jobs, (rows) => (rows.length === 0 ? '' : jobTable(rows)), (j) => j.id);
  }
}
