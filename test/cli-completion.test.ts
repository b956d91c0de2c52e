import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { BaseCommand } from '../cli/base-command.js';
import { COMMANDS } from '../cli/commands.js';
import { complete, type CompletableCommand, type DynamicValues } from '../cli/completion.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import { CLI_BIN, type RunResult } from './support/processes.js';

const values: DynamicValues = {
  secretNames: async () => ['HF_TOKEN', 'WANDB_API_KEY', 'db-url'],
  jobIds: async () => ['j_0123456789abcdef'],
  workspaceNames: async () => ['dev', 'dev-gpu', 'notebook'],
  orgKeyIds: async () => ['ok_primary', 'ok_previous'],
  masterKeyVersions: async () => ['1', '2'],
  profiles: async () => ['default', 'staging'],
};
const offline: DynamicValues = {
  ...values,
  secretNames: async () => {
    throw new Error('cannot reach the server');
  },
};

describe('vesslctl completion (what may come next on a command line)', () => {
  const rows: Array<[typed: string, candidates: string[], given?: DynamicValues]> = [
    ['se', ['secret']],
    ['secret l', ['list', 'ls']],
    ['admin master-key r', ['retire', 'rewrap', 'rotate']],
    ['secret show H', ['HF_TOKEN']],
    ['secret get ', ['HF_TOKEN', 'WANDB_API_KEY', 'db-url']],
    ['secret show HF_TOKEN ', []],
    ['secret show H', [], offline],
    ['job logs j_', ['j_0123456789abcdef']],
    ['workspace s', ['shell', 'show', 'start', 'stop']],
    ['workspace shell d', ['dev', 'dev-gpu']],
    ['workspace exec -it n', ['notebook']],
    ['workspace rm --yes ', ['dev', 'dev-gpu', 'notebook']],
    ['workspace create -n dev -i python:3.12 --secret H', ['HF_TOKEN']],
    ['job list --state r', ['running']],
    ['job list --secret W', ['WANDB_API_KEY']],
    ['job create -s ', ['HF_TOKEN', 'WANDB_API_KEY', 'db-url']],
    ['secret list -o ', ['table', 'json', 'yaml', 'name']],
    ['secret list --include', ['--include-deleted']],
    ['secret list --org acme --pro', ['--profile']],
    ['secret list --profile s', ['staging']],
    ['secret delete --yes H', ['HF_TOKEN']],
    ['org retire-key ok_p', ['ok_primary', 'ok_previous']],
    ['admin master-key retire ', ['1', '2']],
    ['config set ', ['endpoint', 'org', 'token', 'ca-cert']],
    ['config use st', ['staging']],
    ['completion ', ['bash', 'zsh', 'fish']],
    ['help ex', []],
    ['__comp', []],
  ];
  for (const [typed, candidates, given = values] of rows) {
    it(`vesslctl ${typed}<Tab> -> ${candidates.join(' ') || '(nothing)'}`, async () => {
      const words = typed.split(' ');
      expect(await complete(words, COMMANDS as unknown as Record<string, CompletableCommand>, BaseCommand.baseFlags, given)).to.deep.equal(candidates);
    });
  }

  describe('from the built bundle, with the bash, zsh and fish scripts, against vessl-secrets up', function () {
    let world: CliWorld;
    let binDir: string;
    const ok = (r: RunResult) => {
      expect(r.code, r.stderr).to.equal(0);
      return r;
    };
    before(async () => {
      world = await startCliWorld({ logLevel: 'warn' });
      ok(await world.cli(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]));
      for (const name of ['HF_TOKEN', 'HOME_DIR_URL', 'WANDB_API_KEY']) ok(await world.cli(['secret', 'create', name, '--from-stdin'], { input: 'v' }));
      for (const name of ['dev', 'dev-gpu', 'notebook']) ok(await world.cli(['workspace', 'create', '-n', name, '-i', 'python:3.12']));
      // `vesslctl` on PATH, as the script calls it.
      binDir = path.join(world.configDir, '..', 'bin');
      mkdirSync(binDir, { recursive: true });
      writeFileSync(path.join(binDir, 'vesslctl'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_BIN}" "$@"\n`);
      chmodSync(path.join(binDir, 'vesslctl'), 0o755);
    });
    after(async () => {
      await world?.stop();
      world?.remove();
    });

    /** Runs bash's completion function for the words, as Tab would, and returns COMPREPLY. */
    async function tab(words: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string[]> {
      const script = `source <(vesslctl completion bash); COMP_WORDS=(vesslctl ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _vesslctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const env = { PATH: `${binDir}:${process.env.PATH}`, HOME: path.join(world.configDir, '..', 'home'), VESSLCTL_CONFIG_DIR: world.configDir, ...extraEnv };
      const { stdout } = await promisify(execFile)('bash', ['-c', script], { env });
      return stdout.split('\n').filter((line) => line !== '');
    }

    it('completes secret names from the server', async () => {
      expect(await tab(['secret', 'show', 'H'])).to.deep.equal(['HF_TOKEN', 'HOME_DIR_URL']);
    });

    /** The zsh and fish scripts, run by the shells themselves: Tab's candidates for the words. */
    const otherShells: Record<'zsh' | 'fish', (words: string[]) => string[]> = {
      // compadd is the zsh builtin the script hands its candidates to; here it prints them.
      zsh: (words) => ['zsh', '-c', `autoload -Uz compinit; compinit -u -D; source <(vesslctl completion zsh); compadd() { [ "$1" = -- ] && shift; printf '%s\\n' "$@"; }; _files() { echo FILES; }; words=(vesslctl ${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length + 1}; _vesslctl`],
      fish: (words) => ['fish', '-c', `vesslctl completion fish | source; complete -C ${JSON.stringify(['vesslctl', ...words].join(' '))}`],
    };
    for (const [shell, command] of Object.entries(otherShells)) {
      it(`completes secret names and aliases in ${shell}`, async () => {
        const env = { PATH: `${binDir}:${process.env.PATH}`, HOME: path.join(world.configDir, '..', 'home'), VESSLCTL_CONFIG_DIR: world.configDir };
        const run = async (words: string[]) => {
          const [file, ...args] = command(words);
          const { stdout } = await promisify(execFile)(file, args, { env });
          return stdout.split('\n').filter((line) => line !== '');
        };
        expect(await run(['secret', 'show', 'H'])).to.deep.equal(['HF_TOKEN', 'HOME_DIR_URL']);
        expect(await run(['secret', 'r'])).to.deep.equal(['rm']);
      });
    }
    it('completes workspace names from the server', async () => {
      expect(await tab(['workspace', 'shell', 'd'])).to.deep.equal(['dev-gpu', 'dev']);
    });
    it('completes commands and aliases', async () => {
      expect(await tab(['secret', 'r'])).to.deep.equal(['rm']);
    });
    it('completes nothing (and prints no error) when the server cannot be reached', async () => {
      expect(await tab(['secret', 'show', 'H'], { VESSLCTL_ENDPOINT: '127.0.0.1:1' })).to.deep.equal([]);
    });
  });
});
