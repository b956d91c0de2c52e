// A workspace's fields by the job launcher's own rules (services/job-launcher/rules.ts): a
// workspace is given name, image, command, env and secrets exactly as a job is, and may leave its
// command empty (it then idles until stopped). The rules name a job's fields ("job.env[0].name");
// here they are renamed to the workspace's ("workspace.env[0].name"), as the server names them.
import { checkJobInput } from '../../services/job-launcher/rules.js';
import { ANY_FILE_ROOT } from '../../services/runtime/secret-file-paths.js';
import type { ViolationSink } from '../../services/secret-store/rules.js';
import type { SentSecret } from './env-secrets';

export interface WorkspaceInput {
  name: string;
  image: string;
  command: string;
  env: { name: string; value: string }[];
  secrets: SentSecret[];
}

/**
 * Every rule the browser can check (the file roots depend on the backend, which only the server
 * knows; ANY_FILE_ROOT leaves that one to it). An empty command is allowed; one of only spaces is
 * still refused, as for a job.
 */
export function checkWorkspaceInput(v: ViolationSink, workspace: WorkspaceInput): void {
  const renamed: ViolationSink = {
    add(field, description) {
      if (field === 'job.command' && workspace.command === '') return;
      v.add(field.replace(/^job\./, 'workspace.'), description);
    },
    check(ok, field, description) {
      if (!ok) this.add(field, description);
    },
  };
  checkJobInput(renamed, { ...workspace, secretRefs: workspace.secrets }, ANY_FILE_ROOT);
}
