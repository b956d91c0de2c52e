// Dynamic shell completion: what may come next on a vesslctl command line, from the command map
// (commands, aliases, flags, the values an option flag or argument takes) and from the server
// (secret names, job ids, workspace names, key ids, master key versions). `vesslctl completion bash|zsh|fish`
// prints the script that asks `vesslctl __complete WORDS...` on every Tab.

/** The parts of an oclif command class completion reads. */
export interface CompletableCommand {
  aliases?: string[];
  hidden?: boolean;
  flags?: Record<string, { type: string; char?: string; options?: readonly string[]; hidden?: boolean }>;
  args?: Record<string, { options?: readonly string[] }>;
}

/** Values only the server (or the config file) knows; each may fail, which completes nothing. */
export interface DynamicValues {
  secretNames(): Promise<string[]>;
  jobIds(): Promise<string[]>;
  workspaceNames(): Promise<string[]>;
  orgKeyIds(): Promise<string[]>;
  masterKeyVersions(): Promise<string[]>;
  profiles(): Promise<string[]>;
}

type Source = keyof DynamicValues;

/** Which dynamic values an argument takes, by command (or topic) and argument name. */
const ARG_SOURCES: Array<{ command: RegExp; arg: string; source: Source }> = [
  { command: /^secret:/, arg: 'name', source: 'secretNames' },
  { command: /^job:/, arg: 'id', source: 'jobIds' },
  { command: /^workspace:/, arg: 'name', source: 'workspaceNames' },
  { command: /^org:retire-key$/, arg: 'key_id', source: 'orgKeyIds' },
  { command: /^admin:master-key:retire$/, arg: 'version', source: 'masterKeyVersions' },
  { command: /^config:use$/, arg: 'name', source: 'profiles' },
];

/** Which dynamic values a flag takes, by name. */
const FLAG_SOURCES: Record<string, Source> = { secret: 'secretNames', profile: 'profiles' };

/**
 * The completions of the last word of `words` (the words after `vesslctl`; the last one is the
 * word being typed, '' for a new one), those that start with it.
 */
export async function complete(
  words: string[],
  commands: Record<string, CompletableCommand>,
  globalFlags: CompletableCommand['flags'],
  values: DynamicValues,
): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const ids = visibleIds(commands);
  const startsWithCurrent = (candidates: string[]) => [...new Set(candidates.filter((c) => c.startsWith(current)))];

  // The command: the leading words (before any flag) that name one.
  const path: string[] = [];
  let id: string | undefined;
  let rest: string[] = [];
  for (const [i, word] of before.entries()) {
    if (word.startsWith('-')) break;
    path.push(word);
    const candidate = path.join(':');
    if (ids.has(candidate)) {
      id = ids.get(candidate);
      rest = before.slice(i + 1);
      break;
    }
  }
  if (id === undefined) {
    if (before.some((word) => word.startsWith('-'))) return [];
    const prefix = path.length === 0 ? '' : `${path.join(':')}:`;
    return startsWithCurrent([...ids.keys()].filter((known) => known.startsWith(prefix)).map((known) => known.slice(prefix.length).split(':')[0])).sort();
  }

  const command = commands[id];
  const flags = { ...(globalFlags ?? {}), ...(command.flags ?? {}) };
  const flagNamed = (word: string) => {
    const name = word.replace(/^--?/, '').split('=')[0];
    return Object.entries(flags).find(([long, flag]) => long === name || flag.char === name);
  };
  // The word before is an option flag without "=value": complete its value.
  const previous = rest.at(-1);
  const pending = previous?.startsWith('-') && !previous.includes('=') ? flagNamed(previous) : undefined;
  if (pending && pending[1].type === 'option') {
    const [name, flag] = pending;
    if (flag.options) return startsWithCurrent([...flag.options]);
    return FLAG_SOURCES[name] ? startsWithCurrent(await quietly(values[FLAG_SOURCES[name]])) : [];
  }
  if (current.startsWith('-')) {
    return startsWithCurrent(Object.entries(flags).filter(([, flag]) => !flag.hidden).map(([name]) => `--${name}`)).sort();
  }

  // A positional argument: which one, counting the words that are not flags or their values.
  let position = 0;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i];
    if (!word.startsWith('-')) position++;
    else if (!word.includes('=') && flagNamed(word)?.[1].type === 'option') i++;
  }
  const [argName, arg] = Object.entries(command.args ?? {})[position] ?? [];
  if (argName === undefined || arg === undefined) return [];
  if (arg.options) return startsWithCurrent([...arg.options]);
  const source = ARG_SOURCES.find((s) => s.command.test(id) && s.arg === argName)?.source;
  return source ? startsWithCurrent(await quietly(values[source])) : [];
}

/** Every visible command id and alias, each with the id it runs. */
function visibleIds(commands: Record<string, CompletableCommand>): Map<string, string> {
  const ids = new Map<string, string>();
  for (const [id, command] of Object.entries(commands)) {
    if (command.hidden) continue;
    ids.set(id, id);
    for (const alias of command.aliases ?? []) ids.set(alias, id);
  }
  return ids;
}

/** A completion never prints an error: no values when the server cannot say. */
async function quietly(values: () => Promise<string[]>): Promise<string[]> {
  try {
    return await values();
  } catch {
    return [];
  }
}

/** The scripts `vesslctl completion SHELL` prints: each asks `vesslctl __complete` on Tab. */
export const COMPLETION_SCRIPTS = {
  bash: `# vesslctl completion for bash: add to ~/.bashrc
#   source <(vesslctl completion bash)
_vesslctl() {
  local IFS=$'\\n'
  COMPREPLY=($(vesslctl __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _vesslctl vesslctl
`,
  zsh: `#compdef vesslctl
# vesslctl completion for zsh: add to ~/.zshrc
#   source <(vesslctl completion zsh)
_vesslctl() {
  local -a candidates
  candidates=("\${(@f)$(vesslctl __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if (( \${#candidates[@]} )) && [[ -n "\${candidates[1]}" ]]; then compadd -- "\${candidates[@]}"; else _files; fi
}
compdef _vesslctl vesslctl
`,
  fish: `# vesslctl completion for fish: save as ~/.config/fish/completions/vesslctl.fish
#   vesslctl completion fish > ~/.config/fish/completions/vesslctl.fish
complete -c vesslctl -f -a '(vesslctl __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
} as const;

export const SHELLS = Object.keys(COMPLETION_SCRIPTS) as Array<keyof typeof COMPLETION_SCRIPTS>;
