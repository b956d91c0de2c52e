import { createReadStream } from 'node:fs';
import { Flags } from './oclif.js';
import { MAX_VALUE_BYTES } from '../services/runtime/sealed-value.js';
import { CommandError } from './errors.js';
import { isInteractive, readAllBytes, readHiddenLine } from './terminal.js';

/** The flags that say where a secret value comes from (at most one may be given). */
export const valueSourceFlags = {
  'from-stdin': Flags.boolean({
    description: 'Read the value from standard input, byte for byte, until EOF.',
    helpGroup: 'VALUE',
  }),
  'from-env': Flags.string({
    description: 'Read the value from the environment variable VAR.',
    helpValue: 'VAR',
    helpGroup: 'VALUE',
  }),
  'from-file': Flags.string({
    description: 'Read the value from FILE, byte for byte (multi-line PEM keys and JSON stay intact).',
    helpValue: 'FILE',
    helpGroup: 'VALUE',
  }),
  value: Flags.string({
    description: 'The value itself. Discouraged: it lands in shell history and the process list.',
    helpValue: 'V',
    helpGroup: 'VALUE',
  }),
};

export type ValueSourceFlags = {
  'from-stdin'?: boolean;
  'from-env'?: string;
  'from-file'?: string;
  value?: string;
};

export type ValueSource =
  | { kind: 'stdin' }
  | { kind: 'env'; variable: string }
  | { kind: 'file'; path: string }
  | { kind: 'literal'; text: string }
  | { kind: 'prompt' };

const SOURCE_FLAGS = '--from-stdin, --from-env VAR, --from-file FILE or --value V';

/** The one value source the flags name, or undefined when they name none. */
export function chosenValueSource(flags: ValueSourceFlags): ValueSource | undefined {
  const sources: ValueSource[] = [];
  if (flags['from-stdin']) sources.push({ kind: 'stdin' });
  if (flags['from-env'] !== undefined) sources.push({ kind: 'env', variable: flags['from-env'] });
  if (flags['from-file'] !== undefined) sources.push({ kind: 'file', path: flags['from-file'] });
  if (flags.value !== undefined) sources.push({ kind: 'literal', text: flags.value });
  if (sources.length > 1) throw new CommandError(`give only one value source: ${SOURCE_FLAGS}`);
  return sources[0];
}

/** Like chosenValueSource, but with none given: a hidden prompt on a terminal, else an error. */
export function requiredValueSource(flags: ValueSourceFlags): ValueSource {
  const source = chosenValueSource(flags);
  if (source) return source;
  if (isInteractive()) return { kind: 'prompt' };
  throw new CommandError(`no value given and no terminal to prompt on: use ${SOURCE_FLAGS}`);
}

/** How reading a value talks to the user (stderr), and what the prompt calls the value. */
export interface ValueSourceIo {
  warn: (message: string) => void;
  promptLabel: string;
}

/**
 * Reads the plaintext exactly as given (no trimming, no newline added or removed). The
 * caller owns the returned buffer and must zero it (withFreshKeyRetry does).
 */
export async function readSecretValue(
  source: ValueSource,
  io: ValueSourceIo,
): Promise<Buffer> {
  const value = await readBytes(source, io);
  if (value.length === 0) throw new CommandError(`the value${sourceLabel(source)} is empty: a secret value needs at least 1 byte`);
  return value;
}

async function readBytes(source: ValueSource, io: ValueSourceIo): Promise<Buffer> {
  switch (source.kind) {
    case 'stdin':
      if (isInteractive()) io.warn('Reading the value from standard input until EOF (Ctrl-D)...');
      return readAllBytes(process.stdin, MAX_VALUE_BYTES, 'the value from standard input');
    case 'env': {
      const text = process.env[source.variable];
      if (text === undefined) throw new CommandError(`--from-env ${source.variable}: the environment variable is not set`);
      return Buffer.from(text, 'utf8');
    }
    case 'file':
      try {
        return await readAllBytes(createReadStream(source.path), MAX_VALUE_BYTES, `--from-file ${source.path}`);
      } catch (err) {
        if (err instanceof CommandError) throw err;
        throw new CommandError(`cannot read --from-file ${source.path}: ${fileErrorText(err)}`);
      }
    case 'literal':
      io.warn('warning: --value leaves the secret in your shell history and the process list; prefer --from-file, --from-stdin or the prompt');
      return Buffer.from(source.text, 'utf8');
    case 'prompt':
      return readHiddenLine(`${io.promptLabel} (input hidden): `, MAX_VALUE_BYTES);
  }
}

const sourceLabel = (source: ValueSource) =>
  ({ stdin: ' from standard input', env: ' of --from-env', file: ' in --from-file', literal: ' of --value', prompt: '' })[source.kind];

/** "no such file", "permission denied", ...: why a file named on the command line cannot be read. */
export function fileErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (err as Error).message;
}
