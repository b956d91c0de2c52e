import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import dotenv from 'dotenv';
import { scanEnvFile } from '../cli/env-file.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import type { RunResult } from './support/processes.js';
import { valuesAsLaunched } from './support/launch.js';

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ==\n-----END OPENSSH PRIVATE KEY-----';

/** A .env with most of what dotenv reads; the line numbers below refer to it. */
const DOT_ENV = [
  '# Service credentials', //                                                       1
  'export HF_TOKEN=hf_import_value', //                                             2
  "WANDB_API_KEY='wandb # not a comment'", //                                       3
  '', //                                                                            4
  'DATABASE_URL="postgres://app:pw@db:5432/app?sslmode=require"  # a comment', //   5
  'GREETING="line one\\nline two"', //                                              6
  `DEPLOY_KEY="${PEM}"`, //                                                         7-10
  'LR=0.001', //                                                                    11
  '  SPACED =  padded value   ', //                                                 12
  'LR=0.0005', //                                                                   13
  '',
].join('\n');

const EXPECTED: Record<string, { line: number; value: string }> = {
  HF_TOKEN: { line: 2, value: 'hf_import_value' },
  WANDB_API_KEY: { line: 3, value: 'wandb # not a comment' },
  DATABASE_URL: { line: 5, value: 'postgres://app:pw@db:5432/app?sslmode=require' },
  GREETING: { line: 6, value: 'line one\nline two' },
  DEPLOY_KEY: { line: 7, value: PEM },
  SPACED: { line: 12, value: 'padded value' },
  LR: { line: 13, value: '0.0005' },
};

interface ImportRow {
  line: number;
  key: string;
  result: string;
  error: string;
  warning: string;
}

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

/** A run that reported its rows on stdout and failed with one error line. */
function failedRows(r: RunResult): ImportRow[] {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(1);
  expect(r.stderr.trim().split('\n').filter((line) => line.startsWith('error: '))).to.have.length(1);
  return JSON.parse(r.stdout);
}

const byLine = (rows: ImportRow[]) => Object.fromEntries(rows.map((row) => [row.line, row]));

/** Values as the job launcher gets them at a launch (the only way a value ever comes back). */
async function launchValues(world: CliWorld, names: string[]): Promise<Buffer[]> {
  const token = ok(await world.serverCommand(['token', 'mint', '--role', 'service', '--subject', 'svc:job-launcher'])).stdout.trim();
  return valuesAsLaunched(world.server.endpoint, token, 'default', names);
}

describe('reading .env files line by line, as dotenv does', () => {
  const cases: Array<{ name: string; text: string; entries: Array<[line: number, key: string, overriddenBy?: number]>; ignored?: number[] }> = [
    { name: 'the sample file', text: DOT_ENV, entries: [[2, 'HF_TOKEN'], [3, 'WANDB_API_KEY'], [5, 'DATABASE_URL'], [6, 'GREETING'], [7, 'DEPLOY_KEY'], [11, 'LR', 13], [12, 'SPACED'], [13, 'LR']] },
    { name: 'CRLF line ends', text: 'A=1\r\nB="x\r\ny"\r\nC=3\r\n', entries: [[1, 'A'], [2, 'B'], [4, 'C']] },
    { name: 'blank lines and comments before a key', text: '\n\n# c\n\nA=1\n', entries: [[5, 'A']] },
    { name: 'a multi-line value in single quotes and in backticks', text: "A='x\ny'\nB=`p\nq`\nC=3", entries: [[1, 'A'], [3, 'B'], [5, 'C']] },
    { name: 'YAML-ish KEY: value', text: 'A: 1\nB=2', entries: [[1, 'A'], [2, 'B']] },
    { name: 'a line that is not KEY=VALUE', text: 'A=1\nJUST_A_WORD\nB=2\n  # indented comment\n', entries: [[1, 'A'], [3, 'B']], ignored: [2] },
    { name: 'an unquoted value over two lines (the second is ignored)', text: 'A=one\ntwo three\n', entries: [[1, 'A']], ignored: [2] },
    { name: 'keys dotenv reads but vesslctl refuses later', text: 'a.b=1\n_X=2\n1A=3\n', entries: [[1, 'a.b'], [2, '_X'], [3, '1A']] },
    { name: 'an empty value', text: 'EMPTY=\nB=2', entries: [[1, 'EMPTY'], [2, 'B']] },
  ];
  for (const { name, text, entries, ignored = [] } of cases) {
    it(`finds each key's line: ${name}`, () => {
      const scanned = scanEnvFile(text);
      expect(scanned.entries.map((e) => [e.line, e.key, ...(e.overriddenBy ? [e.overriddenBy] : [])])).to.deep.equal(entries);
      expect(scanned.ignoredLines).to.deep.equal(ignored);
      // The values, last one winning, are dotenv's own.
      const values = Object.fromEntries(scanned.entries.filter((e) => !e.overriddenBy).map((e) => [e.key, e.value]));
      expect(values).to.deep.equal({ ...dotenv.parse(text) });
    });
  }

  it('gives every value of the sample exactly', () => {
    const values = Object.fromEntries(scanEnvFile(DOT_ENV).entries.filter((e) => !e.overriddenBy).map((e) => [e.key, e.value]));
    expect(values).to.deep.equal(Object.fromEntries(Object.entries(EXPECTED).map(([key, { value }]) => [key, value])));
  });
});

describe('vesslctl secret import, against vessl-secrets up', function () {
  let world: CliWorld;
  const file = (name: string, text: string) => {
    const target = path.join(world.configDir, '..', name);
    writeFileSync(target, text);
    return target;
  };
  const listNames = async () => (JSON.parse(ok(await world.cli(['secret', 'list', '-o', 'json'])).stdout) as Array<{ name: string }>).map((s) => s.name).sort();

  before(async () => {
    world = await startCliWorld({ logLevel: 'warn' });
    ok(await world.cli(['auth', 'login', '--credentials', path.join(world.dataDir, 'credentials.json')]));
  });
  after(async () => {
    await world?.stop();
    world?.remove();
  });

  it('creates nothing when one line is invalid, and says which line and why', async () => {
    const env = file('invalid.env', 'GOOD_ONE=1\nnot.an.env.name=2\nEMPTY=\nGOOD_TWO=4\n');
    const rows = byLine(failedRows(await world.cli(['secret', 'import', env, '-o', 'json'])));
    expect(rows[1]).to.deep.equal({ line: 1, key: 'GOOD_ONE', result: 'skipped', error: '', warning: '' });
    expect(rows[2]).to.include({ key: 'not.an.env.name', result: 'failed' }).and.have.property('error').that.matches(/environment variable name/);
    expect(rows[3]).to.deep.equal({ line: 3, key: 'EMPTY', result: 'skipped', error: '', warning: 'empty value: skipped' });
    expect(rows[4]).to.include({ result: 'skipped' });
    const table = await world.cli(['secret', 'import', env]);
    expect(table.stdout).to.match(/^LINE\s+KEY\s+RESULT\s+NOTE$/m).and.match(/^2\s+not\.an\.env\.name\s+failed\s+not an environment variable name/m);
    expect(table.stderr).to.match(/^error: 1 of 4 lines failed \(line 2\); nothing was created/m);
    expect(table.stderr).to.include('warning: line 3 of ').and.include('(EMPTY) has an empty value and is skipped');
    expect(await listNames()).to.deep.equal([]);
  });

  it('checks a file with --dry-run, naming the names already taken, and creates nothing', async () => {
    ok(await world.cli(['secret', 'create', 'ALREADY_HERE', '--from-stdin'], { input: 'here' }));
    const env = file('dry.env', 'NEW_ONE=1\nALREADY_HERE=2\n');
    const rows = byLine(failedRows(await world.cli(['secret', 'import', env, '--dry-run', '-o', 'json'])));
    expect(rows[1]).to.deep.equal({ line: 1, key: 'NEW_ONE', result: 'would-create', error: '', warning: '' });
    expect(rows[2]).to.include({ result: 'failed' }).and.have.property('error').that.includes('vesslctl secret update ALREADY_HERE');
    ok(await world.cli(['secret', 'import', file('dry-ok.env', 'NEW_ONE=1\n'), '--dry-run']));
    expect(await listNames()).to.deep.equal(['ALREADY_HERE']);
  });

  it('creates the valid lines one by one with --continue-on-error, reporting each', async () => {
    const env = file('partial.env', 'PARTIAL_A=a\nbad-key=b\nALREADY_HERE=c\nPARTIAL_B="b\nb"\n');
    const rows = byLine(failedRows(await world.cli(['secret', 'import', env, '--continue-on-error', '-o', 'json'])));
    expect(rows[1]).to.deep.equal({ line: 1, key: 'PARTIAL_A', result: 'created', error: '', warning: '' });
    expect(rows[2]).to.include({ result: 'failed' });
    expect(rows[3]).to.include({ result: 'failed' }).and.have.property('error').that.matches(/already exists.*vesslctl secret update ALREADY_HERE.*ALREADY_EXISTS/);
    expect(rows[4]).to.deep.equal({ line: 4, key: 'PARTIAL_B', result: 'created', error: '', warning: '' });
    expect(await listNames()).to.deep.equal(['ALREADY_HERE', 'PARTIAL_A', 'PARTIAL_B']);
    expect((await launchValues(world, ['PARTIAL_B']))[0].toString()).to.equal('b\nb');
  });

  it('imports quotes, export prefixes, comments, a multi-line PEM and a duplicate key in one call', async () => {
    const env = file('app.env', DOT_ENV);
    const result = ok(await world.cli(['secret', 'import', env, '-o', 'json']));
    const rows: ImportRow[] = JSON.parse(result.stdout);
    expect(rows).to.deep.equal(
      [
        ...Object.entries(EXPECTED).map(([key, { line }]) => ({ line, key, result: 'created', error: '', warning: '' })),
        { line: 11, key: 'LR', result: 'skipped', error: '', warning: 'overridden by line 13' },
      ].sort((a, b) => a.line - b.line),
    );
    const listed = JSON.parse(ok(await world.cli(['secret', 'list', '-o', 'json'])).stdout) as Array<{ name: string; key: string; version: number }>;
    for (const key of Object.keys(EXPECTED)) expect(listed.find((s) => s.name === key), key).to.include({ key, version: 1 });

    const names = Object.keys(EXPECTED);
    const values = await launchValues(world, names);
    names.forEach((name, i) => expect(values[i].equals(Buffer.from(EXPECTED[name].value, 'utf8')), name).to.equal(true));
  });

  it('creates nothing when the server refuses one secret of the batch, and names its line', async () => {
    const env = file('taken.env', 'FRESH_ONE=1\nHF_TOKEN=again\nFRESH_TWO=2\n');
    const rows = byLine(failedRows(await world.cli(['secret', 'import', env, '-o', 'json'])));
    expect(rows[2]).to.include({ key: 'HF_TOKEN', result: 'failed' }).and.have.property('error').that.matches(/already exists.*vesslctl secret update HF_TOKEN/);
    expect([rows[1].result, rows[3].result]).to.deep.equal(['skipped', 'skipped']);
    expect(await listNames()).to.not.include.members(['FRESH_ONE', 'FRESH_TWO']);
  });

  it('refetches a stale org key by itself and reseals every value once', async () => {
    const cacheFile = path.join(world.configDir, 'keys.json');
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    for (const entry of Object.values(cache) as Array<{ keyId: string }>) entry.keyId = 'ok_retiredkey000';
    writeFileSync(cacheFile, JSON.stringify(cache));
    ok(await world.cli(['secret', 'import', file('stale.env', 'STALE_A=after-stale-a\nSTALE_B=after-stale-b\n')]));
    const values = await launchValues(world, ['STALE_A', 'STALE_B']);
    expect(values.map((v) => v.toString())).to.deep.equal(['after-stale-a', 'after-stale-b']);
  });

  it('refuses more secrets than one batch takes, before contacting the server', async () => {
    const env = file('big.env', Array.from({ length: 501 }, (_, i) => `BIG_${i}=v${i}\n`).join(''));
    const r = await world.cli(['secret', 'import', env, '--endpoint', '127.0.0.1:1']);
    expect(r.code).to.equal(2); // a usage error (cli/exit-codes.ts);
    expect(r.stderr).to.match(/^error: .*big\.env has 501 secrets; at most 500 can be created at once \(split the file, or use --continue-on-error\)\n$/);
  });

  it('refuses a KEY that would change how the job starts (PATH, LD_PRELOAD), naming the risk, before contacting the server', async () => {
    const env = file('risky.env', 'FINE=1\nPATH=/tmp/evil\nLD_PRELOAD=/tmp/evil.so\n');
    const rows = byLine(failedRows(await world.cli(['secret', 'import', env, '-o', 'json', '--endpoint', '127.0.0.1:1'])));
    expect(rows[2]).to.include({ key: 'PATH', result: 'failed' }).and.have.property('error').that.matches(/^PATH decides which program each command of the job runs/);
    expect(rows[3]).to.include({ key: 'LD_PRELOAD', result: 'failed' }).and.have.property('error').that.matches(/dynamic loader/);
  });

  it('reads the lines from standard input with -', async () => {
    ok(await world.cli(['secret', 'import', '-'], { input: 'FROM_STDIN_A=stdin-a\nFROM_STDIN_B=stdin-b\n' }));
    const values = await launchValues(world, ['FROM_STDIN_A', 'FROM_STDIN_B']);
    expect(values.map((v) => v.toString())).to.deep.equal(['stdin-a', 'stdin-b']);
  });

  it('with --upsert creates the new KEYs and rotates the existing ones, and --dry-run says which', async () => {
    ok(await world.cli(['secret', 'create', 'UPSERT_OLD', '--from-stdin', '--description', 'kept'], { input: 'old-value' }));
    const env = file('upsert.env', 'UPSERT_OLD=new-value\nUPSERT_NEW=fresh-value\n');
    const dry = JSON.parse(ok(await world.cli(['secret', 'import', env, '--upsert', '--dry-run', '-o', 'json'])).stdout) as ImportRow[];
    expect(dry.map((row) => row.result)).to.deep.equal(['would-update', 'would-create']);
    const rows = JSON.parse(ok(await world.cli(['secret', 'import', env, '--upsert', '-o', 'json'])).stdout) as ImportRow[];
    expect(rows.map((row) => row.result)).to.deep.equal(['updated', 'created']);
    const values = await launchValues(world, ['UPSERT_OLD', 'UPSERT_NEW']);
    expect(values.map((v) => v.toString())).to.deep.equal(['new-value', 'fresh-value']);
    const old = JSON.parse(ok(await world.cli(['secret', 'show', 'UPSERT_OLD', '-o', 'json'])).stdout);
    expect(old).to.include({ version: 2, description: 'kept' });
    const table = ok(await world.cli(['secret', 'import', env, '--upsert'])).stdout;
    expect(table).to.match(/Updated 2 secrets in org default from /);
  });

  it('never prints a value', () => {
    const values = [...Object.values(EXPECTED).map((e) => e.value), 'after-stale-a', 'wandb # not a comment', 'hf_import_value', 'stdin-a', 'new-value', 'fresh-value'];
    for (const output of world.outputs) {
      for (const value of values) expect(output.stdout + output.stderr).to.not.include(value);
    }
  });
});
