import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { injectionFlags, injectionsOf } from '../../injection-flags.js';
import { jobSummary } from '../../job-format.js';
import type { JobJson } from '../../jobs-api.js';

export default class JobCreate extends BaseCommand<typeof JobCreate> {
  static override summary = 'Run a job with org secrets injected as environment variables or mounted as files.';
  static override description = `--secret NAME injects the secret under its KEY; --secret KEY=NAME under KEY instead. --secret-file PATH=NAME mounts its value, byte for byte, as a read-only file (mode 0400, the job's user, in memory) at PATH, which must lie under /run/secrets/ (or, on the local backend, the job's HOME /home/job/). --env, --secret and --secret-file can be given many times.
Secret values are read when the attempt starts: a later rotation reaches the job only through \`vesslctl job restart\`. A plain --env variable with the same name as a secret's KEY wins; that secret is then not injected, and a warning says so.`;

  static override examples = [
    {
      description: 'Inject HF_TOKEN under its key and a database URL under another name',
      command:
        '<%= config.bin %> job create -n finetune -i pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime --cmd "python train.py" --secret HF_TOKEN --secret DATABASE_URL=prod-db-url',
    },
    {
      description: 'Plain variables too (split at the first "=", so values may contain "=")',
      command: '<%= config.bin %> job create -n sweep -i python:3.12 --cmd "python sweep.py" --env LR=0.001 --env FILTER=a=b --secret WANDB_API_KEY',
    },
    {
      description: 'A service-account key as a file, and the variable that points at it',
      command:
        '<%= config.bin %> job create -n gcs-sync -i google/cloud-sdk --cmd "gcloud storage ls" --secret-file /run/secrets/gcp.json=gcp-sa-key --env GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp.json',
    },
    { description: 'As JSON, for scripts', command: '<%= config.bin %> job create -n eval -i python:3.12 --cmd "python eval.py" -o json' },
  ];

  static override flags = {
    quiet: Flags.boolean({ char: 'q', description: 'Print only the job id (for scripts: JOB=$(vesslctl job create ... -q)).' }),
    name: Flags.string({ char: 'n', required: true, description: 'Job name: letters, digits, ".", "_", "-".', helpValue: 'NAME' }),
    image: Flags.string({ char: 'i', required: true, description: 'Container image to run the command in.', helpValue: 'IMAGE' }),
    cmd: Flags.string({ required: true, description: 'Command, run with /bin/sh -c.', helpValue: '"CMD"' }),
    ...injectionFlags,
  };

  async run(): Promise<JobJson> {
    const { name, image, cmd } = this.flags;
    const spec = { name, image, command: cmd, ...injectionsOf(this.flags) };
    const api = await this.openJobsApi();
    const { job, warnings } = await api.createJob(spec);
    // Warnings go to stderr: -o json prints the bare job, as every create does.
    for (const warning of warnings) this.notice(`warning: ${warning}`);
    if (this.flags.quiet) {
      this.log(job.id);
      return job;
    }
    return this.print(job, (j) => `Created job ${j.id} (${j.name}) in org ${j.org}.\n${jobSummary(j)}`, (j) => j.id);
  }
}
