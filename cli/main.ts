// vesslctl's entry point, run from its bundle: bin/vesslctl.js imports dist/vesslctl/main.js
// (scripts/build-cli.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execute, settings, type Interfaces } from '@oclif/core';
import { COMMANDS } from './commands.js';

// Never map the bundle back to TypeScript sources (oclif would under NODE_ENV=test|development).
settings.enableAutoTranspile = false;

// The package root, from dist/vesslctl/main.js.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

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

const pjson = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as Interfaces.PJSON;
const withoutPlugins = { ...pjson, oclif: { ...pjson.oclif, plugins: [] } };
await execute(runsOwnCommand(process.argv.slice(2)) ? { loadOptions: { root: ROOT, pjson: withoutPlugins } } : { dir: import.meta.url });
