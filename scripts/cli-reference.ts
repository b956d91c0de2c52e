// The command reference in README.md, generated from the command classes (cli/commands.ts).
//   npx tsx scripts/cli-reference.ts           prints the section
//   npx tsx scripts/cli-reference.ts --write   rewrites it in README.md, between the markers
// test/cli-surface.test.ts fails when the README's section is not what this renders.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { COMMANDS } from '../cli/commands.js';
import { EXIT_CODE_TABLE } from '../cli/exit-codes.js';

export const README = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
export const START_MARKER = '<!-- cli-reference:start -->';
export const END_MARKER = '<!-- cli-reference:end -->';
const HEADING = '## Command reference';
const BIN = 'vesslctl';

export interface ArgDoc {
  name: string;
  required: boolean;
  options?: readonly string[];
  description?: string;
}

export interface FlagDoc {
  name: string;
  char?: string;
  type: 'boolean' | 'option';
  multiple: boolean;
  required: boolean;
  options?: readonly string[];
  helpValue?: string;
  default?: unknown;
  min?: number;
  description?: string;
}

export interface ExampleDoc {
  description?: string;
  command: string;
}

/** One command as the reference and the surface snapshot see it. */
export interface CommandDoc {
  id: string;
  /** As typed: "secret create". */
  words: string;
  /** Other words that run it, as typed: "secret ls". */
  aliases: string[];
  summary?: string;
  description?: string;
  args: ArgDoc[];
  flags: FlagDoc[];
  examples: ExampleDoc[];
  /** The command's own usage line without the bin (`workspace exec NAME [-i] [-t] -- CMD [ARGS...]`), when it has one. */
  usage?: string;
}

type CommandClass = Command.Class;
type FlagLike = { type: 'boolean' | 'option'; char?: string; multiple?: boolean; required?: boolean; options?: readonly string[]; helpValue?: string | string[]; default?: unknown; min?: number; description?: string; hidden?: boolean };
type ArgLike = { required?: boolean; options?: readonly string[]; description?: string; hidden?: boolean };

const fillBin = (text: string) => text.replaceAll('<%= config.bin %>', BIN);

export function flagDocs(flags: Record<string, unknown> | undefined): FlagDoc[] {
  return Object.entries((flags ?? {}) as Record<string, FlagLike>)
    .filter(([, flag]) => !flag.hidden)
    .map(([name, flag]) => ({
      name,
      char: flag.char,
      type: flag.type,
      multiple: flag.multiple === true,
      required: flag.required === true,
      options: flag.options,
      helpValue: Array.isArray(flag.helpValue) ? flag.helpValue.join(' ') : flag.helpValue,
      // A default computed at run time is not part of the surface.
      default: typeof flag.default === 'function' || flag.default === false ? undefined : flag.default,
      min: flag.min,
      description: flag.description,
    }));
}

function argDocs(args: Record<string, unknown> | undefined): ArgDoc[] {
  return Object.entries((args ?? {}) as Record<string, ArgLike>)
    .filter(([, arg]) => !arg.hidden)
    .map(([name, arg]) => ({ name, required: arg.required === true, options: arg.options, description: arg.description }));
}

function exampleDocs(examples: CommandClass['examples']): ExampleDoc[] {
  return (examples ?? []).map((example) =>
    typeof example === 'string' ? { command: fillBin(example) } : { description: example.description, command: fillBin(example.command) },
  );
}

/** Every command of the explicit map, in its order; flags are the command's own (see globalFlagDocs). */
export function commandDocs(commands: Record<string, CommandClass> = COMMANDS): CommandDoc[] {
  return Object.entries(commands)
    .filter(([, command]) => !command.hidden)
    .map(([id, command]) => ({
      id,
      words: id.replaceAll(':', ' '),
      aliases: (command.aliases ?? []).map((alias) => alias.replaceAll(':', ' ')),
      summary: command.summary,
      description: command.description,
      args: argDocs(command.args),
      flags: flagDocs(command.flags),
      examples: exampleDocs(command.examples),
      usage: typeof command.usage === 'string' ? command.usage : undefined,
    }));
}

/** The flags every command takes (BaseCommand.baseFlags). */
export const globalFlagDocs = (): FlagDoc[] => flagDocs(BaseCommand.baseFlags);

/** `vesslctl job create -n NAME -i IMAGE --cmd "CMD" [FLAGS]`: arguments and required flags. */
export function usageLine(doc: CommandDoc): string {
  // A command whose words after `--` are not its own (workspace exec) says how it is typed.
  if (doc.usage) return `${BIN} ${doc.usage}`;
  const args = doc.args.map((arg) => (arg.required ? arg.name.toUpperCase() : `[${arg.name.toUpperCase()}]`));
  const required = doc.flags.filter((flag) => flag.required).map((flag) => `${flag.char ? `-${flag.char}` : `--${flag.name}`} ${valueName(flag)}`);
  const optional = doc.flags.some((flag) => !flag.required) ? ['[FLAGS]'] : [];
  return [BIN, doc.words, ...args, ...required, ...optional].join(' ');
}

const valueName = (flag: FlagDoc) => flag.helpValue ?? flag.name.toUpperCase();

function flagCell(flag: FlagDoc): string {
  const names = `${flag.char ? `-${flag.char}, ` : ''}--${flag.name}`;
  return flag.type === 'boolean' ? names : `${names} ${flag.options ? flag.options.join('|') : valueName(flag)}`;
}

/** Prose as markdown: "***" (masked values) must not turn into emphasis. */
const prose = (text: string) => text.replaceAll('*', '\\*');
/** Table cell text: one line, pipes escaped. */
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replaceAll('|', '\\|');

function flagNotes(flag: FlagDoc): string {
  const notes = [
    flag.required ? 'Required.' : '',
    flag.multiple ? 'Repeatable.' : '',
    flag.default !== undefined ? `Default: \`${String(flag.default)}\`.` : '',
  ].filter((note) => note !== '');
  return [prose(flag.description ?? ''), ...notes].filter((text) => text !== '').join(' ');
}

function flagTable(flags: FlagDoc[]): string[] {
  return ['| flag | meaning |', '|---|---|', ...flags.map((flag) => `| \`${cell(flagCell(flag))}\` | ${cell(flagNotes(flag))} |`)];
}

function commandSection(doc: CommandDoc): string[] {
  const lines = [`### ${BIN} ${doc.words}`, '', prose(doc.summary ?? ''), '', '```', usageLine(doc), '```', ''];
  if (doc.aliases.length > 0) lines.push(`Also: ${doc.aliases.map((alias) => `\`${BIN} ${alias}\``).join(', ')}.`, '');
  if (doc.description) lines.push(...doc.description.split('\n').flatMap((paragraph) => [prose(paragraph), '']));
  if (doc.args.length > 0) {
    lines.push('| argument | meaning |', '|---|---|');
    for (const arg of doc.args) {
      const options = arg.options ? ` One of: ${arg.options.map((o) => `\`${o}\``).join(', ')}.` : '';
      lines.push(`| \`${arg.name.toUpperCase()}\` | ${cell(`${prose(arg.description ?? '')}${arg.required ? '' : ' Optional.'}${options}`.trim())} |`);
    }
    lines.push('');
  }
  if (doc.flags.length > 0) lines.push(...flagTable(doc.flags), '');
  lines.push('Examples:', '', '```sh');
  doc.examples.forEach((example, i) => {
    if (i > 0) lines.push('');
    if (example.description) lines.push(`# ${example.description}`);
    lines.push(example.command);
  });
  lines.push('```', '');
  return lines;
}

/** The exit statuses (cli/exit-codes.ts), as `vesslctl help exit-codes` prints them. */
function exitCodeSection(): string[] {
  return [
    `### Exit statuses`,
    '',
    `Scripts can rely on these (\`${BIN} help exit-codes\` prints them); the error line on stderr says more.`,
    '',
    '| status | meaning | for example |',
    '|---|---|---|',
    ...EXIT_CODE_TABLE.map((row) => `| ${row.code} | ${cell(row.meaning)} | ${cell(row.examples)} |`),
    '',
  ];
}

/** The markdown between the markers (without them). */
export function renderCommandReference(): string {
  const docs = commandDocs();
  const lines = [
    '',
    `Generated from the command classes by \`npx tsx scripts/cli-reference.ts --write\`; \`${BIN} COMMAND --help\` says the same.`,
    `Shell completion of commands, flags, secret names and job ids: \`source <(${BIN} completion bash)\` (or \`zsh\`; \`fish\`: see \`${BIN} completion --help\`).`,
    `Aliases: \`secret ls\`, \`secret get\`, \`secret rm\`, \`job ls\`, \`job get\`, \`audit ls\`, \`admin master-key ls\`.`,
    '',
    ...docs.map((doc) => `- [\`${BIN} ${doc.words}\`](#${anchor(`${BIN} ${doc.words}`)}): ${prose(doc.summary ?? '')}`),
    '',
    `Every command also takes these flags:`,
    '',
    ...flagTable(globalFlagDocs()),
    '',
    ...exitCodeSection(),
    ...docs.flatMap(commandSection),
  ];
  return lines.join('\n');
}

/** GitHub's heading anchors: lower case, spaces to dashes, most punctuation dropped. */
const anchor = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replaceAll(' ', '-');

/** The README with its reference section replaced (or appended, with its heading, when missing). */
export function withCommandReference(readme: string, reference = renderCommandReference()): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start) {
    return `${readme.trimEnd()}\n\n${HEADING}\n\n${START_MARKER}\n${reference}${END_MARKER}\n`;
  }
  return `${readme.slice(0, start + START_MARKER.length)}\n${reference}${readme.slice(end)}`;
}

function main(argv: string[]): void {
  if (argv.includes('--write')) {
    const before = readFileSync(README, 'utf8');
    const after = withCommandReference(before);
    if (after !== before) writeFileSync(README, after);
    process.stdout.write(after === before ? 'README.md: the command reference is up to date\n' : 'README.md: rewrote the command reference\n');
    return;
  }
  process.stdout.write(renderCommandReference());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
