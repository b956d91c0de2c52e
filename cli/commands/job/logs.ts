import { once } from 'node:events';
import { Args, Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { EXIT } from '../../exit-codes.js';
import { latestAttempt } from '../../job-format.js';

/** What `job logs -o json|yaml` prints: the whole log of one attempt as UTF-8 text. */
export interface JobLogJson {
  id: string;
  attempt: number;
  log: string;
}

export default class JobLogs extends BaseCommand<typeof JobLogs> {
  static override summary = 'Print a job\'s log (secret values are masked as ***).';
  static override description = `Writes the log bytes to stdout as they arrive, unchanged, for the latest attempt unless --attempt. With --follow it keeps streaming while the attempt runs; Ctrl-C stops it (exit status 130).
With -o json or -o yaml the whole log is collected first and printed as {"id", "attempt", "log"}.`;

  static override examples = [
    '<%= config.bin %> job logs j_4f2c9a1b7d0e3a5c',
    { description: 'Follow the running attempt, starting from its last 100 lines', command: '<%= config.bin %> job logs j_4f2c9a1b7d0e3a5c -f --limit 100' },
    { description: 'The first attempt\'s log as JSON', command: '<%= config.bin %> job logs j_4f2c9a1b7d0e3a5c --attempt 1 -o json' },
  ];

  static override args = {
    id: Args.string({ required: true, description: 'Job id.' }),
  };

  static override flags = {
    follow: Flags.boolean({ char: 'f', description: 'Keep streaming while the attempt runs.' }),
    limit: Flags.integer({ description: 'Only the last N lines (then, with --follow, everything new).', min: 1, helpValue: 'N' }),
    attempt: Flags.integer({ description: 'Which attempt (1 is the first run). [default: the latest]', min: 1, helpValue: 'N' }),
  };

  async run(): Promise<JobLogJson | undefined> {
    const { id } = this.args;
    const { follow, limit } = this.flags;
    const raw = this.outputFormat === 'table';
    const api = await this.openJobsApi();
    // The JSON names the attempt, so "the latest" is pinned to a number before streaming.
    const attempt = this.flags.attempt ?? (raw ? 0 : (latestAttempt(await api.getJob(id))?.number ?? 0));

    const controller = new AbortController();
    let interrupted = false;
    let pipeClosed = false;
    const onSigint = () => {
      interrupted = true;
      controller.abort();
    };
    const onStdoutError = (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') return;
      pipeClosed = true; // e.g. `vesslctl job logs ID | head`: stop quietly
      controller.abort();
    };
    process.once('SIGINT', onSigint); // a second Ctrl-C kills the process the default way
    process.stdout.on('error', onStdoutError);
    const chunks: Buffer[] = [];
    try {
      const stream = api.streamLogs({ id, follow, tailLines: limit ?? 0, attempt }, controller.signal);
      for await (const data of stream) {
        if (!raw) chunks.push(data);
        else if (!process.stdout.write(data)) await once(process.stdout, 'drain');
      }
    } catch (err) {
      if (!pipeClosed) throw err;
    } finally {
      process.off('SIGINT', onSigint);
      process.stdout.off('error', onStdoutError);
    }

    const result = raw ? undefined : await this.print({ id, attempt, log: Buffer.concat(chunks).toString('utf8') }, () => '');
    if (interrupted) this.exit(EXIT.INTERRUPTED);
    return result;
  }
}
