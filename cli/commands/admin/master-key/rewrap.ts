import { Flags } from '../../../oclif.js';
import { BaseCommand } from '../../../base-command.js';
import type { RewrapProgressJson } from '../../../admin-api.js';
import { EXIT } from '../../../exit-codes.js';

/** Back to the start of the line, and erase it: a shorter line leaves nothing of a longer one. */
const CLEAR_LINE = '\r\x1b[2K';

/** "[#####-----]  52%  5200/10000 data keys  ETA 12s" */
function progressLine(p: RewrapProgressJson, startedAt: number): string {
  const total = p.dataKeysTotal;
  const done = p.dataKeysRewrapped;
  const ratio = total === 0 ? 1 : Math.min(1, done / total);
  const width = 30;
  const filled = Math.round(ratio * width);
  const elapsed = (Date.now() - startedAt) / 1000;
  const eta = done > 0 && ratio < 1 ? `ETA ${Math.ceil((elapsed / done) * (total - done))}s` : '';
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%  ${done}/${total} data keys  ${eta}`;
}

export default class MasterKeyRewrap extends BaseCommand<typeof MasterKeyRewrap> {
  static override summary = 'Re-wrap every org key and data key under the primary master key, with a progress bar (operators).';
  static override description =
    'No secret value is decrypted: only data keys are unwrapped and wrapped again, inside key-management. Idempotent and resumable: after an interruption, run it again and it finishes what is left; two runs at once are safe.';
  static override examples = ['<%= config.bin %> admin master-key rewrap', '<%= config.bin %> admin master-key rewrap --batch-size 1000 -o json'];
  static override flags = {
    'batch-size': Flags.integer({ description: 'Data keys per batch (1-2000).', default: 500, min: 1, max: 2000 }),
  };

  async run(): Promise<RewrapProgressJson> {
    const api = await this.openAdminApi();
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    const startedAt = Date.now();
    // On stderr, so it shows with -o json too (stdout stays parseable).
    const tty = process.stderr.isTTY === true;
    let last: RewrapProgressJson = { kekVersion: 0, orgKeysRewrapped: 0, dataKeysRewrapped: 0, dataKeysTotal: 0, done: false };
    for await (const p of api.rewrap(this.flags['batch-size'], abort.signal)) {
      last = p;
      if (tty) process.stderr.write(`${CLEAR_LINE}${progressLine(p, startedAt)}`);
    }
    if (tty) process.stderr.write(CLEAR_LINE); // the bar goes; the result line says where it ended
    if (abort.signal.aborted) this.notice('interrupted: run the rewrap again to finish (nothing is lost)');
    const result = await this.print(last, (p) =>
      p.done
        ? `Rewrap done: ${p.orgKeysRewrapped} org key(s) and ${p.dataKeysRewrapped} data key(s) now under master key version ${p.kekVersion}.`
        : `Rewrap stopped after ${p.dataKeysRewrapped} of ${p.dataKeysTotal} data keys; run it again to finish.`,
    );
    // Ctrl-C: how far it got is printed above (done: false), and the status says it stopped.
    if (abort.signal.aborted && !last.done) this.exit(EXIT.INTERRUPTED);
    return result;
  }
}
