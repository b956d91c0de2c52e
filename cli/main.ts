// vesslctl's entry point, bundled into dist/vesslctl/vesslctl.cjs (scripts/build-cli.ts) and run
// by bin/vesslctl.js. The bundle is also what package.json's oclif section loads the command map
// and the command_not_found hook from, so oclif and the commands exist once in a process.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execute, settings, type Interfaces } from '@oclif/core';
import { COMMANDS } from './commands.js';

export { COMMANDS };
export { default as commandNotFound } from './hooks/command-not-found.js';

/**
 * Whether argv runs one of vesslctl's own commands: its leading words (before any flag) start
 * with a command id. oclif's plugins (help, autocomplete) only add their commands, so such a
 * run does not load them; every other run (help, autocomplete, topics, unknown commands) does.
 */
export function runsOwnCommand(argv: string[]): boolean {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-')) return false;
    words.push(arg);
    if (Object.hasOwn(COMMANDS, words.join(':'))) return true;
  }
  return false;
}

/** Runs vesslctl with `argv`; `root` is the package root (where package.json is). */
export async function main(root: string, argv: string[] = process.argv.slice(2)): Promise<void> {
  // Never map the bundle back to TypeScript sources (oclif would under NODE_ENV=test|development).
  settings.enableAutoTranspile = false;
  if (!runsOwnCommand(argv)) {
    await execute({ args: argv, loadOptions: { root } });
    return;
  }
  const pjson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Interfaces.PJSON;
  await execute({ args: argv, loadOptions: { root, pjson: { ...pjson, oclif: { ...pjson.oclif, plugins: [] } } } });
}
