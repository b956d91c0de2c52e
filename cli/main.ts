// vesslctl's entry point, bundled into dist/vesslctl/vesslctl.cjs (scripts/build-cli.ts) and run
// by bin/vesslctl.js. The bundle is also what package.json's oclif section loads the command map
// and the command_not_found hook from, so oclif and the commands exist once in a process.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execute, settings, type Interfaces } from './oclif.js';
import { COMMANDS } from './commands.js';

export { COMMANDS };
export { default as commandNotFound } from './hooks/command-not-found.js';

/**
 * The commands oclif loads for a run of one of vesslctl's own commands: that command only.
 * oclif builds metadata for every command it is given and sorts them with localeCompare, whose
 * first call loads ICU's collator (~5 ms); only help, topics and unknown commands list them.
 */
export let RUN_COMMANDS: Partial<typeof COMMANDS> = {};

/** Each alias (`secret:ls`) and the command it names (`secret:list`). */
const ALIAS_OF: Record<string, keyof typeof COMMANDS> = Object.fromEntries(
  Object.entries(COMMANDS).flatMap(([id, command]) => (command.aliases ?? []).map((alias) => [alias, id as keyof typeof COMMANDS])),
);

/**
 * The id of the vesslctl command argv runs, if any: its leading words (before any flag) start
 * with a command id (no id is a prefix of another, test/cli-surface.test.ts). oclif's plugins
 * (help) only adds its commands, so such a run does not load it; every other run
 * (help, topics, unknown commands) does.
 */
export function ownCommandId(argv: string[]): keyof typeof COMMANDS | undefined {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-')) return undefined;
    words.push(arg);
    const id = words.join(':');
    // Help shows every command: it is run with all of them loaded.
    if (id === 'help') return undefined;
    if (Object.hasOwn(COMMANDS, id)) return id as keyof typeof COMMANDS;
    if (Object.hasOwn(ALIAS_OF, id)) return ALIAS_OF[id];
  }
  return undefined;
}

/** Runs vesslctl with `argv`; `root` is the package root (where package.json is). */
export async function main(root: string, argv: string[] = process.argv.slice(2)): Promise<void> {
  // Never map the bundle back to TypeScript sources (oclif would under NODE_ENV=test|development).
  settings.enableAutoTranspile = false;
  // The package is named after the repository; --version and the user agent say vesslctl.
  const pjson = { ...(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Interfaces.PJSON), name: 'vesslctl' };
  const id = ownCommandId(argv);
  if (id === undefined) {
    await execute({ args: argv, loadOptions: { root, pjson } });
    return;
  }
  RUN_COMMANDS = { [id]: COMMANDS[id] };
  const commands = { ...(pjson.oclif.commands as object), identifier: 'RUN_COMMANDS' } as Interfaces.PJSON['oclif']['commands'];
  await execute({ args: argv, loadOptions: { root, pjson: { ...pjson, oclif: { ...pjson.oclif, plugins: [], commands } } } });
}
