import { readFileSync, statSync } from 'node:fs';
import { Args, Flags } from '../../oclif.js';
import { MAX_VALUE_BYTES } from '../../../services/runtime/sealed-value.js';
import { isValidKey, KEY_PATTERN, keyRisk, NAME_PATTERN } from '../../../services/secret-store/rules.js';
import { BaseCommand } from '../../base-command.js';
import type { EnvFileEntry } from '../../env-file.js';
import { CommandError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { formatTable } from '../../output.js';
import { OrgKeyCache, withFreshKeyRetry, withFreshKeyRetryAll, type SealedValue } from '../../sealing.js';
import type { NewSecret, SecretsApi } from '../../secrets-api.js';
import { isInteractive, readAllBytes } from '../../terminal.js';
import { fileErrorText } from '../../value-source.js';

/**
 * What happened to one line: created, updated (--upsert), failed, skipped (not sent), or
 * would-create / would-update (--dry-run).
 */
export type ImportLineResult = 'created' | 'updated' | 'failed' | 'skipped' | 'would-create' | 'would-update';

/** One entry of the file as `secret import -o json` reports it (never with its value). */
export interface ImportLineJson {
  line: number;
  key: string;
  result: ImportLineResult;
  /** Why the line failed ('' when it did not). */
  error: string;
  /** Why a line that did not fail was skipped, e.g. "overridden by line 9" ('' otherwise). */
  warning: string;
}

/** BatchCreateSecrets takes at most this many secrets (the server's limit). */
const MAX_BATCH = 500;
const MAX_FILE_BYTES = MAX_BATCH * (MAX_VALUE_BYTES + 1024);
const LIST_PAGE_SIZE = 1000;

/** An entry to create, and the row that reports it. */
interface Planned {
  entry: EnvFileEntry;
  row: ImportLineJson;
}

export default class SecretImport extends BaseCommand<typeof SecretImport> {
  static override summary = 'Create a secret for every KEY=VALUE of a .env file (or standard input), all or nothing.';
  static override description = `The file is read as the dotenv package reads it: comments, blank lines, \`export \` prefixes, single, double and backtick quotes, values over several lines in double quotes, \\n and \\r in double quotes. Each KEY becomes a secret named KEY that jobs get as KEY, so KEY must be both a secret name and an environment variable name. When a KEY appears twice, the last line wins (as in dotenv) and the earlier one is reported as overridden.
A line with an empty value (KEY=) is skipped with a warning. Every value is sealed on this machine on its own, then all secrets are created in one call: if any line fails, nothing is created. --continue-on-error creates them one by one instead and reports each line. With --upsert a KEY that is already a secret gets the line's value as its new version (its KEY and description stay): the new secrets are created first, all or nothing, then each existing one is updated on its own. Values are never printed.`;

  static override examples = [
    { description: 'Create every secret of .env, or none if any line is wrong', command: '<%= config.bin %> secret import .env' },
    { description: 'Check a file (and which names are taken) without creating anything', command: '<%= config.bin %> secret import .env --dry-run' },
    { description: 'Create what can be created; the JSON says what happened to each line', command: '<%= config.bin %> secret import prod.env --continue-on-error -o json' },
    { description: 'From another program, creating new secrets and rotating existing ones', command: 'op inject -i prod.env.tpl | <%= config.bin %> secret import - --upsert' },
  ];

  static override args = {
    file: Args.string({ required: true, description: 'The .env file: KEY=VALUE lines, as dotenv reads them; - reads standard input.' }),
  };

  static override flags = {
    'continue-on-error': Flags.boolean({ description: 'Create the secrets one by one, keeping those that succeed; exit 1 if any line failed.' }),
    'dry-run': Flags.boolean({ description: 'Check the file and the names already taken; create nothing.' }),
    upsert: Flags.boolean({ description: 'Update the value of a KEY that is already a secret instead of failing.' }),
  };

  async run(): Promise<ImportLineJson[]> {
    const file = this.args.file === '-' ? 'standard input' : this.args.file;
    const { scanEnvFile } = await import('../../env-file.js');
    const text = this.args.file === '-' ? await this.readStdin() : readEnvFile(file);
    const { entries, ignoredLines } = scanEnvFile(text);
    for (const line of ignoredLines) this.notice(`warning: line ${line} of ${file} is not KEY=VALUE and is ignored (as dotenv does)`);
    if (entries.length === 0) throw new CommandError(`${file} has no KEY=VALUE lines: nothing to import`);

    const rows = entries.map(firstLook);
    for (const row of rows) if (row.warning === EMPTY_VALUE) this.notice(`warning: line ${row.line} of ${file} (${row.key}) has an empty value and is skipped`);
    const planned: Planned[] = entries.flatMap((entry, i) => (rows[i].result === 'would-create' ? [{ entry, row: rows[i] }] : []));
    const continueOnError = this.flags['continue-on-error'];
    const failedLocally = rows.some((row) => row.result === 'failed');
    if (!continueOnError && planned.length > MAX_BATCH) {
      throw new CommandError(`${file} has ${planned.length} secrets; at most ${MAX_BATCH} can be created at once (split the file, or use --continue-on-error)`);
    }

    const upsert = this.flags.upsert;
    if (this.flags['dry-run']) {
      await this.markTakenNames(await this.openApi(), planned, upsert);
    } else if (failedLocally && !continueOnError) {
      for (const { row } of planned) row.result = 'skipped';
    } else if (planned.length > 0) {
      const api = await this.openApi();
      const keys = new OrgKeyCache(api);
      await keys.get(); // a wrong endpoint or token fails here, before any value is sealed
      const taken = upsert ? await takenNames(api) : new Set<string>();
      const toCreate = planned.filter(({ entry }) => !taken.has(entry.key));
      if (continueOnError) await this.createOneByOne(api, keys, toCreate);
      else if (toCreate.length > 0) await this.createAllOrNothing(api, keys, toCreate);
      const created = toCreate.every(({ row }) => row.result === 'created');
      const toUpdate = planned.filter(({ entry }) => taken.has(entry.key));
      if (created || continueOnError) await this.updateOneByOne(api, keys, toUpdate);
      else for (const { row } of toUpdate) row.result = 'skipped';
    }
    return this.report(file, rows);
  }

  /** Standard input as text (secret import -): a pipe, or typed lines up to Ctrl-D. */
  private async readStdin(): Promise<string> {
    if (isInteractive()) this.notice('Reading KEY=VALUE lines from standard input until EOF (Ctrl-D)...');
    const bytes = await readAllBytes(process.stdin, MAX_FILE_BYTES, 'standard input');
    return decodeUtf8(bytes, 'standard input');
  }

  /** --dry-run: a name already taken would fail the import (or, with --upsert, be updated). */
  private async markTakenNames(api: SecretsApi, planned: Planned[], upsert: boolean): Promise<void> {
    const taken = await takenNames(api);
    for (const { entry, row } of planned) {
      if (!taken.has(entry.key)) continue;
      if (upsert) row.result = 'would-update';
      else fail(row, `secret "${entry.key}" already exists: use --upsert, or \`vesslctl secret update ${entry.key}\``);
    }
  }

  /** --upsert: the file's value becomes each existing secret's new version, one call each. */
  private async updateOneByOne(api: SecretsApi, keys: OrgKeyCache, planned: Planned[]): Promise<void> {
    for (const { entry, row } of planned) {
      try {
        await withFreshKeyRetry(Buffer.from(entry.value, 'utf8'), keys, (sealed) => api.updateSecret({ name: entry.key }, sealed, ['value']));
        row.result = 'updated';
      } catch (err) {
        fail(row, await this.describeError(err, entry.key));
      }
    }
  }

  /** One BatchCreateSecrets call: every secret is created, or none. */
  private async createAllOrNothing(api: SecretsApi, keys: OrgKeyCache, planned: Planned[]): Promise<void> {
    const names = planned.map(({ entry }) => entry.key);
    const values = planned.map(({ entry }) => Buffer.from(entry.value, 'utf8'));
    const secrets = (sealed: SealedValue[]): NewSecret[] => names.map((name, i) => ({ fields: { name, key: name, description: '' }, value: sealed[i] }));
    try {
      await withFreshKeyRetryAll(values, keys, (sealed) => api.batchCreateSecrets(secrets(sealed)));
    } catch (err) {
      // Only a failure that names lines is reported per line; any other is the command's error.
      const problems = api.batchItemProblems(err, names);
      if (!problems) throw err;
      planned.forEach(({ row }, i) => {
        const problem = problems.get(i);
        if (problem === undefined) row.result = 'skipped';
        else fail(row, problem);
      });
      return;
    }
    for (const { row } of planned) row.result = 'created';
  }

  /** --continue-on-error: CreateSecret per line, so each succeeds or fails on its own. */
  private async createOneByOne(api: SecretsApi, keys: OrgKeyCache, planned: Planned[]): Promise<void> {
    for (const { entry, row } of planned) {
      const fields = { name: entry.key, key: entry.key, description: '' };
      try {
        await withFreshKeyRetry(Buffer.from(entry.value, 'utf8'), keys, (sealed) => api.createSecret(fields, sealed));
        row.result = 'created';
      } catch (err) {
        fail(row, await this.describeError(err, entry.key));
      }
    }
  }

  /** Prints the rows; any failed line makes the command fail (exit 1) after they are shown. */
  private async report(file: string, rows: ImportLineJson[]): Promise<ImportLineJson[]> {
    const dryRun = this.flags['dry-run'];
    const org = this.settings.org?.value;
    await this.print(
      rows,
      (r) => {
      const count = (result: ImportLineResult) => r.filter((row) => row.result === result).length;
      const plural = (n: number) => `${n} secret${n === 1 ? '' : 's'}`;
      const table = importTable(r);
      if (dryRun) return `${table}\n\nDry run: nothing was created or updated.`;
      const done = [count('created') > 0 ? `Created ${plural(count('created'))}` : '', count('updated') > 0 ? `updated ${plural(count('updated'))}` : ''].filter((part) => part !== '');
      if (done.length === 0) return table;
      const sentence = done.join(' and ');
      return `${table}\n\n${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}${org ? ` in org ${org}` : ''} from ${file}.`;
      },
      // -o name: the secrets that exist now because of this run.
      (row) => (row.result === 'created' || row.result === 'updated' ? row.key : undefined),
    );
    const failed = rows.filter((row) => row.result === 'failed');
    if (failed.length === 0) return rows;
    const which = `${failed.length} of ${rows.length} lines ${dryRun ? 'would fail' : 'failed'} (${lineList(failed)})`;
    // The lines were read and checked: some of them failing is the command's answer.
    const exitCode = EXIT.NEGATIVE;
    if (dryRun) throw new CommandError(`${which}; nothing was created (dry run)`, { exitCode });
    if (this.flags['continue-on-error']) throw new CommandError(`${which}; the other lines were created or skipped as shown`, { exitCode });
    const heldBack = rows.some((row) => row.result === 'skipped' && row.warning === '');
    throw new CommandError(`${which}; nothing was created${heldBack ? ', as the import is all or nothing (--continue-on-error creates the other lines)' : ''}`, { exitCode });
  }
}

/** Reads the file as UTF-8 text; its bytes are zeroed once decoded. */
function readEnvFile(file: string): string {
  let bytes: Buffer;
  try {
    const size = statSync(file).size;
    if (size > MAX_FILE_BYTES) throw new CommandError(`${file} is ${size} bytes; at most ${MAX_FILE_BYTES} can be imported`);
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof CommandError) throw err;
    throw new CommandError(`cannot read ${file}: ${fileErrorText(err)}`);
  }
  return decodeUtf8(bytes, file);
}

/** The bytes as UTF-8 text, then zeroed. */
function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    // Fatal: a value that is not UTF-8 would not survive as text byte for byte.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CommandError(`${file} is not UTF-8 text`);
  } finally {
    bytes.fill(0);
  }
}

/** The names of the org's live secrets. */
async function takenNames(api: SecretsApi): Promise<Set<string>> {
  const taken = new Set<string>();
  let pageToken = '';
  do {
    const page = await api.listSecrets({ pageSize: LIST_PAGE_SIZE, pageToken, showDeleted: false });
    for (const secret of page.secrets) if (secret.name) taken.add(secret.name);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return taken;
}

/** What can be told before anything is sent: overridden lines, bad names, bad values. */
/** The warning of a KEY= line: a secret value needs at least 1 byte, so the line is left out. */
const EMPTY_VALUE = 'empty value: skipped';

function firstLook(entry: EnvFileEntry): ImportLineJson {
  const row: ImportLineJson = { line: entry.line, key: entry.key, result: 'would-create', error: '', warning: '' };
  if (entry.overriddenBy !== undefined) return { ...row, result: 'skipped', warning: `overridden by line ${entry.overriddenBy}` };
  if (entry.value === '' && NAME_PATTERN.test(entry.key)) return { ...row, result: 'skipped', warning: EMPTY_VALUE };
  const problem = entryProblem(entry);
  if (problem !== undefined) fail(row, problem);
  return row;
}

/** The secret name is KEY and so is the env var name: KEY must be valid as both. */
function entryProblem({ key, value }: EnvFileEntry): string | undefined {
  if (!NAME_PATTERN.test(key)) return 'not a valid secret name: letters, digits, ".", "_", "-", starting with a letter or digit, at most 128';
  if (!isValidKey(key)) return `not an environment variable name: ${KEY_PATTERN.source}`;
  const risk = keyRisk(key);
  if (risk !== undefined) return risk;
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_VALUE_BYTES) return `the value is ${bytes} bytes; at most ${MAX_VALUE_BYTES} are allowed`;
  return undefined;
}

function fail(row: ImportLineJson, error: string): void {
  row.result = 'failed';
  row.error = error;
}

/** "line 3" or "lines 3, 7, 9, 12, 15, ..." (at most five numbers). */
function lineList(rows: ImportLineJson[]): string {
  const lines = rows.map((row) => String(row.line));
  return `line${lines.length === 1 ? '' : 's'} ${[...lines.slice(0, 5), ...(lines.length > 5 ? ['...'] : [])].join(', ')}`;
}

function importTable(rows: ImportLineJson[]): string {
  const withNotes = rows.some((row) => row.error !== '' || row.warning !== '');
  return formatTable(
    ['LINE', 'KEY', 'RESULT', ...(withNotes ? ['NOTE'] : [])],
    rows.map((row) => [String(row.line), row.key, row.result, ...(withNotes ? [row.error || row.warning] : [])]),
  );
}
