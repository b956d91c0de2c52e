// Every vesslctl prompt, driven from the built bundle on a real pseudo-terminal as a person would
// answer it: yes, no (or a value), and Ctrl-C, with the exit status each must end with
// (cli/exit-codes.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import { SecretServiceService, type SecretServiceServer } from '../services/gen/vessl/secrets/v1/secrets.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import { CLI_BIN, type RunResult } from './support/processes.js';
import { startInTerminal, type TerminalSession } from './support/terminal.js';

const CTRL_C = '\x03';
const ENTER = '\r';

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

/** Waits for the prompt, types the answer, and returns the exit status. */
async function answer(session: TerminalSession, prompt: RegExp, typed: string): Promise<number> {
  await session.waitFor(prompt);
  session.type(typed);
  return session.exited;
}

describe('vesslctl prompts on a terminal (the built bundle on a pseudo-terminal)', function () {
  let world: CliWorld;
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: path.join(world.configDir, '..', 'home'),
    VESSLCTL_CONFIG_DIR: world.configDir,
    ...extra,
  });
  const terminal = (args: string[], extra?: NodeJS.ProcessEnv) => startInTerminal(CLI_BIN, args, env(extra));
  const secretNames = async () => (JSON.parse(ok(await world.cli(['secret', 'list', '-o', 'json'])).stdout) as { name: string }[]).map((s) => s.name);

  before(async () => {
    world = await startCliWorld({ logLevel: 'warn' });
    ok(await world.cli(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]));
    for (const name of ['KEEP_ON_NO', 'KEEP_ON_CTRL_C', 'DELETE_ON_YES']) ok(await world.cli(['secret', 'create', name, '--from-stdin'], { input: `${name}-value` }));
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  describe('secret delete NAME (y/N)', () => {
    const question = /Delete secret "\w+" in org default\?.*\[y\/N\] /;
    it('deletes on "y" and exits 0', async () => {
      const session = terminal(['secret', 'delete', 'DELETE_ON_YES']);
      expect(await answer(session, question, `y${ENTER}`), session.output()).to.equal(0);
      expect(session.output()).to.include('Deleted secret DELETE_ON_YES');
      expect(await secretNames()).to.not.include('DELETE_ON_YES');
    });
    it('deletes nothing on "n" and exits 1', async () => {
      const session = terminal(['secret', 'delete', 'KEEP_ON_NO']);
      expect(await answer(session, question, `n${ENTER}`), session.output()).to.equal(1);
      expect(session.output()).to.include('error: cancelled: nothing was deleted');
      expect(await secretNames()).to.include('KEEP_ON_NO');
    });
    it('deletes nothing on Ctrl-C and exits 130', async () => {
      const session = terminal(['secret', 'delete', 'KEEP_ON_CTRL_C']);
      expect(await answer(session, question, CTRL_C), session.output()).to.equal(130);
      expect(await secretNames()).to.include('KEEP_ON_CTRL_C');
    });
  });

  describe('org retire-key KEY_ID (y/N)', () => {
    const question = /Retire org key \S+ of org default\?.*\[y\/N\] /;
    let previous: string;
    const state = async () =>
      (JSON.parse(ok(await world.cli(['org', 'keys', '-o', 'json'])).stdout) as { keyId: string; state: string }[]).find((k) => k.keyId === previous)?.state;
    before(async () => {
      previous = (JSON.parse(ok(await world.cli(['org', 'public-key', '-o', 'json'])).stdout) as { keyId: string }).keyId;
      ok(await world.cli(['org', 'rotate-key']));
    });
    it('keeps the key on "n" (exit 1) and on Ctrl-C (exit 130)', async () => {
      const no = terminal(['org', 'retire-key', previous]);
      expect(await answer(no, question, `n${ENTER}`), no.output()).to.equal(1);
      const interrupted = terminal(['org', 'retire-key', previous]);
      expect(await answer(interrupted, question, CTRL_C), interrupted.output()).to.equal(130);
      expect(await state()).to.match(/previous/i);
    });
    it('retires it on "y" and exits 0', async () => {
      const session = terminal(['org', 'retire-key', previous]);
      expect(await answer(session, question, `y${ENTER}`), session.output()).to.equal(0);
      expect(await state()).to.match(/retired/i);
    });
  });

  describe('hidden value prompts (nothing typed is echoed)', () => {
    it('secret create NAME reads the value from the prompt and exits 0', async () => {
      const session = terminal(['secret', 'create', 'FROM_PROMPT']);
      expect(await answer(session, /Value for secret "FROM_PROMPT" \(input hidden\): /, `typed-value-1${ENTER}`), session.output()).to.equal(0);
      expect(session.output()).to.not.include('typed-value-1');
      expect(await secretNames()).to.include('FROM_PROMPT');
    });
    it('secret create NAME creates nothing on Ctrl-C and exits 130', async () => {
      const session = terminal(['secret', 'create', 'NOT_CREATED']);
      expect(await answer(session, /\(input hidden\): /, `partial${CTRL_C}`), session.output()).to.equal(130);
      expect(session.output()).to.include('error: cancelled');
      expect(await secretNames()).to.not.include('NOT_CREATED');
    });
    it('secret create NAME refuses an empty answer (exit 2)', async () => {
      const session = terminal(['secret', 'create', 'EMPTY_ANSWER']);
      expect(await answer(session, /\(input hidden\): /, ENTER), session.output()).to.equal(2);
      expect(session.output()).to.match(/error: the value is empty/);
    });
    it('secret verify NAME answers 0 for the value and 1 for another, from the prompt', async () => {
      const match = terminal(['secret', 'verify', 'FROM_PROMPT']);
      expect(await answer(match, /Value to check against secret "FROM_PROMPT" \(input hidden\): /, `typed-value-1${ENTER}`), match.output()).to.equal(0);
      const other = terminal(['secret', 'verify', 'FROM_PROMPT']);
      expect(await answer(other, /\(input hidden\): /, `something-else${ENTER}`), other.output()).to.equal(1);
      const interrupted = terminal(['secret', 'verify', 'FROM_PROMPT']);
      expect(await answer(interrupted, /\(input hidden\): /, CTRL_C), interrupted.output()).to.equal(130);
    });
    it('secret update NAME with nothing else asks for the new value (exit 0), and changes nothing on Ctrl-C (exit 130)', async () => {
      const interrupted = terminal(['secret', 'update', 'FROM_PROMPT']);
      expect(await answer(interrupted, /New value for secret "FROM_PROMPT" \(input hidden\): /, CTRL_C), interrupted.output()).to.equal(130);
      const session = terminal(['secret', 'update', 'FROM_PROMPT']);
      expect(await answer(session, /New value for secret "FROM_PROMPT" \(input hidden\): /, `typed-value-2${ENTER}`), session.output()).to.equal(0);
      expect(session.output()).to.not.include('typed-value-2');
      const shown = JSON.parse(ok(await world.cli(['secret', 'show', 'FROM_PROMPT', '-o', 'json'])).stdout) as { version: number };
      expect(shown.version).to.equal(2);
    });
    it('auth login reads the token from the prompt (exit 0), and saves nothing on Ctrl-C (exit 130)', async () => {
      const token = JSON.parse(readFileSync(path.join(world.dataDir, 'credentials.json'), 'utf8')).tokens.member as string;
      const dir = path.join(world.configDir, '..', 'prompt-login');
      const extra = { VESSLCTL_CONFIG_DIR: dir, VESSLCTL_ENDPOINT: world.server.endpoint };
      const interrupted = terminal(['auth', 'login'], extra);
      expect(await answer(interrupted, /Access token \(input hidden\): /, CTRL_C), interrupted.output()).to.equal(130);
      expect((await world.cli(['auth', 'status'], { env: { VESSLCTL_CONFIG_DIR: dir } })).code).to.equal(4);
      const session = terminal(['auth', 'login'], extra);
      expect(await answer(session, /Access token \(input hidden\): /, `${token}${ENTER}`), session.output()).to.equal(0);
      expect(session.output()).to.not.include(token);
      expect(ok(await world.cli(['auth', 'status'], { env: { VESSLCTL_CONFIG_DIR: dir } })).stdout).to.match(/role:\s+member/);
    });
  });

  it('shows times relative to now in tables on a terminal (RFC 3339 when piped)', async () => {
    const session = terminal(['secret', 'list']);
    expect(await session.exited, session.output()).to.equal(0);
    expect(session.output()).to.match(/KEEP_ON_NO\s+KEEP_ON_NO\s+1\s+(just now|\d+s ago|\d+m ago)/);
    expect(ok(await world.cli(['secret', 'list'])).stdout).to.match(/KEEP_ON_NO\s+KEEP_ON_NO\s+1\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  });

  describe('admin master-key retire VERSION (y/N)', () => {
    const question = /Destroy master key version 1\? .*\[y\/N\] /;
    let operator: NodeJS.ProcessEnv;
    const version1 = async () =>
      (JSON.parse(ok(await world.cli(['admin', 'master-key', 'list', '-o', 'json'], { env: operator })).stdout) as { version: number; state: string }[]).find((k) => k.version === 1);
    before(async () => {
      const token = JSON.parse(readFileSync(path.join(world.dataDir, 'credentials.json'), 'utf8')).tokens.operator as string;
      operator = { VESSLCTL_ACCESS_TOKEN: token };
      ok(await world.cli(['admin', 'master-key', 'rotate'], { env: operator }));
      ok(await world.cli(['admin', 'master-key', 'rewrap'], { env: operator }));
    });
    it('keeps the version on "n" (exit 1) and on Ctrl-C (exit 130)', async () => {
      const no = terminal(['admin', 'master-key', 'retire', '1'], operator);
      expect(await answer(no, question, `n${ENTER}`), no.output()).to.equal(1);
      expect(no.output()).to.include('error: cancelled: nothing was destroyed');
      const interrupted = terminal(['admin', 'master-key', 'retire', '1'], operator);
      expect(await answer(interrupted, question, CTRL_C), interrupted.output()).to.equal(130);
      expect((await version1())?.state).to.not.match(/destroyed/i);
    });
    it('refuses without --yes when not on a terminal (exit 2)', async () => {
      const r = await world.cli(['admin', 'master-key', 'retire', '1'], { env: operator });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include('pass --yes');
    });
    it('destroys it on "y" and exits 0', async () => {
      const session = terminal(['admin', 'master-key', 'retire', '1'], operator);
      expect(await answer(session, question, `y${ENTER}`), session.output()).to.equal(0);
      expect(session.output()).to.include('Master key version 1 is destroyed.');
    });
  });

  describe('admin master-key rewrap, interrupted', () => {
    /** A stand-in server whose rewrap reports half the data keys, then never finishes. */
    let stalled: Server;
    let endpoint: string;
    before(async () => {
      stalled = new Server();
      const rewrapSecrets: SecretServiceServer['rewrapSecrets'] = (call) => {
        call.write({ kekVersion: 2, orgKeysRewrapped: 3, dataKeysRewrapped: 500, dataKeysTotal: 1000, done: false });
      };
      stalled.addService(SecretServiceService, { rewrapSecrets } as Partial<SecretServiceServer> as SecretServiceServer);
      const port = await new Promise<number>((resolve, reject) =>
        stalled.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
      );
      endpoint = `127.0.0.1:${port}`;
    });
    after(() => stalled?.forceShutdown());

    it('exits 130 on Ctrl-C and prints how far it got: done false, with the counts', async () => {
      const session = terminal(['admin', 'master-key', 'rewrap', '-o', 'json'], { VESSLCTL_ENDPOINT: endpoint, VESSLCTL_ACCESS_TOKEN: 'stand-in', VESSLCTL_ORG: 'default' });
      expect(await answer(session, / 50%\s+500\/1000 data keys/, CTRL_C), session.output()).to.equal(130);
      const printed = /\{[^{}]*\}/.exec(session.output())?.[0];
      expect(JSON.parse(printed ?? '{}')).to.deep.equal({ kekVersion: 2, orgKeysRewrapped: 3, dataKeysRewrapped: 500, dataKeysTotal: 1000, done: false });
      expect(session.output()).to.include('interrupted: run the rewrap again to finish');
    });

    it('clears the progress bar\'s line when it stops', async () => {
      const session = terminal(['admin', 'master-key', 'rewrap'], { VESSLCTL_ENDPOINT: endpoint, VESSLCTL_ACCESS_TOKEN: 'stand-in', VESSLCTL_ORG: 'default' });
      expect(await answer(session, /500\/1000 data keys/, CTRL_C)).to.equal(130);
      // The bar's line is erased before the next line is written: nothing like "ETA 1s" is left.
      const output = session.output();
      expect(output.indexOf('\r\x1b[2Kinterrupted: ')).to.be.greaterThan(output.indexOf('data keys'));
      expect(session.output()).to.match(/Rewrap stopped after 500 of 1000 data keys/);
    });
  });
});
