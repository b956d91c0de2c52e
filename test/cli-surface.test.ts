import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import path from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { expect } from 'chai';
import { COMMANDS } from '../cli/commands.js';
import { describeError, type ErrorContext } from '../cli/errors.js';
import { ownCommandId } from '../cli/main.js';
import { alreadyExists, ApiError, notFound, permissionDenied, toServiceError, unauthenticated } from '../services/runtime/errors.js';
import { commandDocs, README, renderCommandReference, withCommandReference } from '../scripts/cli-reference.js';
import { commandSurface, expectSnapshot, foldSharedType, mergeShapes, shapeOf, type Shape } from './cli-surface-snapshots.js';
import { startCliWorld, type CliWorld } from './support/cli.js';
import type { RunResult } from './support/processes.js';

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(0);
  return r;
}

/** The single stderr line of a command that failed with exit status `code`. */
function errorLine(r: RunResult, code: number): string {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  return lines[0];
}

const json = (r: RunResult): unknown => JSON.parse(ok(r).stdout);

describe('the vesslctl command surface', function () {
  it('matches the checked-in snapshot of commands, arguments and flags', () => {
    expectSnapshot('cli-surface.json', commandSurface(), 'The command surface (cli/commands.ts)');
  });

  it('gives every command at least one example, and every example runs that command', () => {
    for (const doc of commandDocs()) {
      expect(doc.examples, `${doc.id} has no examples (static examples = [...])`).to.not.be.empty;
      expect(doc.summary, `${doc.id} has no summary`).to.be.a('string').and.not.equal('');
      // The call may sit in a pipeline or a shell condition: `op read ... | vesslctl secret create ...`.
      const runsIt = new RegExp(`(^|[\\s|;&(\`$])vesslctl ${doc.words.replaceAll(' ', '\\s+')}(\\s|$)`);
      for (const { command } of doc.examples) {
        expect(runsIt.test(command), `${doc.id}: example "${command}" does not run \`vesslctl ${doc.words}\``).to.equal(true);
      }
    }
  });

  it('has an up-to-date command reference in the README', () => {
    const readme = readFileSync(README, 'utf8');
    const stale = withCommandReference(readme) !== readme;
    expect(stale, 'README.md\'s command reference is stale: run `npx tsx scripts/cli-reference.ts --write`').to.equal(false);
    expect(readme).to.include(renderCommandReference());
  });

  describe('which command argv runs, before oclif loads (cli/main.ts loads only that one)', () => {
    it('has no command id (or alias) that is a prefix of another, so the leading words name one command', () => {
      const ids = [...Object.keys(COMMANDS), ...Object.values(COMMANDS).flatMap((command) => command.aliases ?? [])];
      for (const id of ids) expect(ids.filter((other) => other.startsWith(`${id}:`)), id).to.deep.equal([]);
    });

    const cases: Array<[argv: string[], id: string | undefined]> = [
      [['secret', 'list'], 'secret:list'],
      [['secret', 'list', '-o', 'json'], 'secret:list'],
      [['secret', 'show', 'HF_TOKEN'], 'secret:show'],
      [['admin', 'master-key', 'rotate', '--yes'], 'admin:master-key:rotate'],
      [['secret:list'], 'secret:list'],
      [['secret', 'list', 'extra'], 'secret:list'],
      [['secret'], undefined],
      [['secret', '--help'], undefined],
      [['--help', 'secret', 'list'], undefined],
      [['help', 'secret', 'list'], undefined],
      [['autocomplete', 'bash'], undefined],
      [['secrte', 'list'], undefined],
      [['secret', 'ls', '-o', 'json'], 'secret:list'],
      [['secret', 'rm', 'OLD', '--yes'], 'secret:delete'],
      [['secret', 'get', 'HF_TOKEN'], 'secret:show'],
      [['job', 'ls'], 'job:list'],
      [['help', 'exit-codes'], undefined],
      [[], undefined],
    ];
    for (const [argv, id] of cases) {
      it(`vesslctl ${argv.join(' ') || '(no arguments)'} -> ${id ?? 'not an own command (oclif with its plugins)'}`, () => {
        expect(ownCommandId(argv)).to.equal(id);
      });
    }
  });

  describe('error lines that suggest the fix', () => {
    const transport = (code: number, details: string) => ({ code, details, message: details, metadata: new Metadata() });
    const cases: Array<{ name: string; err: unknown; context?: ErrorContext; line: string }> = [
      {
        name: 'nothing listening on a local port: start the server',
        err: transport(14, 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:50051 (2026-01-01T00:00:00.000Z). Resolution note: '),
        context: { endpoint: '127.0.0.1:50051', endpointOrigin: 'default' },
        line: 'cannot reach vessl-secrets at 127.0.0.1:50051 (the default endpoint): connection refused: nothing listens on that port; is the server running? (start it with `make up`)',
      },
      {
        name: 'an unreachable remote server: `make up` would not help',
        err: transport(14, 'No connection established. Last error: Error: read ECONNRESET (2026-01-01T00:00:00.000Z)'),
        context: { endpoint: 'secrets.example.com:443', endpointOrigin: 'VESSLCTL_ENDPOINT' },
        line: 'cannot reach vessl-secrets at secrets.example.com:443 (from VESSLCTL_ENDPOINT): is the server running? (read ECONNRESET)',
      },
      {
        name: 'a host name that does not resolve',
        err: transport(14, 'Name resolution failed for target dns:nohost.invalid:50051'),
        context: { endpoint: 'nohost.invalid:50051', endpointOrigin: '/home/me/.config/vesslctl/config.json' },
        line: 'cannot reach vessl-secrets at nohost.invalid:50051 (from /home/me/.config/vesslctl/config.json): the host name nohost.invalid does not resolve (DNS): check the endpoint',
      },
      {
        name: 'a certificate no CA given vouches for',
        err: transport(14, 'No connection established. Last error: Error: self-signed certificate in certificate chain'),
        context: { endpoint: 'secrets.example.com:443', endpointOrigin: '--endpoint' },
        line: 'cannot reach vessl-secrets at secrets.example.com:443 (from --endpoint): the server\'s TLS certificate is not trusted: pass --ca-cert with the CA that signed it',
      },
      {
        name: 'a certificate for another host name',
        err: transport(14, 'No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate\'s altnames'),
        context: { endpoint: 'secrets.example.com:443', endpointOrigin: '--endpoint' },
        line: 'cannot reach vessl-secrets at secrets.example.com:443 (from --endpoint): the server\'s TLS certificate is not for this host name: use the name the certificate is for',
      },
      {
        name: 'a token the server finds expired',
        err: toServiceError(unauthenticated('token expired; get a new one')),
        line: 'token expired: run `vesslctl auth login` again (UNAUTHENTICATED)',
      },
      {
        name: 'an invalid token',
        err: toServiceError(unauthenticated('invalid token')),
        line: 'invalid token: run `vesslctl auth login` (UNAUTHENTICATED)',
      },
      {
        name: 'a denial, with the role from the token',
        err: toServiceError(permissionDenied('role member may not create secrets')),
        context: { role: 'member', tokenOrg: 'acme', org: 'acme' },
        line: 'role member may not create secrets (your role: member; ask an org admin) (PERMISSION_DENIED)',
      },
      {
        name: 'a denial in another org than the token\'s',
        err: toServiceError(permissionDenied('you may not list secrets in org "other"')),
        context: { role: 'admin', tokenOrg: 'acme', org: 'other' },
        line: 'you may not list secrets in org "other" (your token is for org "acme") (PERMISSION_DENIED)',
      },
      {
        name: 'an unknown secret',
        err: toServiceError(notFound('secret "NOPE" not found in org "acme"', 'SECRET_NOT_FOUND')),
        line: 'secret "NOPE" not found in org "acme": run `vesslctl secret list` (NOT_FOUND)',
      },
      {
        name: 'an unknown job',
        err: toServiceError(notFound('job "j_nope" not found in org "acme"', 'JOB_NOT_FOUND')),
        line: 'job "j_nope" not found in org "acme": run `vesslctl job list` (NOT_FOUND)',
      },
      {
        name: 'a name that is taken',
        err: toServiceError(alreadyExists('secret "HF_TOKEN" already exists in org "acme"; update it, or delete it first')),
        context: { secretName: 'HF_TOKEN' },
        line: 'secret "HF_TOKEN" already exists in org "acme"; update it, or delete it first: use `vesslctl secret update HF_TOKEN` (ALREADY_EXISTS)',
      },
      {
        name: 'a call the server does not know',
        err: toServiceError(new ApiError(12, 'unknown method')),
        context: { endpoint: '127.0.0.1:50051' },
        line: 'unknown method: the server at 127.0.0.1:50051 is older than this vesslctl; upgrade it (UNIMPLEMENTED)',
      },
    ];
    for (const { name, err, context, line } of cases) {
      it(name, async () => {
        expect(await describeError(err, context)).to.equal(line);
      });
    }
  });

  describe('against vessl-secrets up (vesslctl as a subprocess)', function () {
    let world: CliWorld;
    let credentials: { tokens: Record<string, string> };
    const credentialsFile = () => path.join(world.dataDir, 'credentials.json');
    before(async () => {
      world = await startCliWorld({ logLevel: 'warn' });
      credentials = JSON.parse(readFileSync(credentialsFile(), 'utf8'));
      ok(await world.cli(['auth', 'login', '--credentials', credentialsFile()]));
      ok(await world.cli(['secret', 'create', 'TAKEN', '--from-stdin'], { input: 'taken_value' }));
    });
    after(async () => {
      await world?.stop();
      world?.remove();
    });

    it('prints -o json in the checked-in shapes', async () => {
      const shapes: Record<string, Shape> = {};
      /** Runs `vesslctl COMMAND ARGS -o json` and adds the output's shape to COMMAND's. */
      const cli = async (command: string, args: string[], opts?: Parameters<CliWorld['cli']>[1]) => {
        const value = json(await world.cli([...command.split(' '), ...args, '-o', 'json'], opts));
        const shape = shapeOf(value);
        shapes[command] = command in shapes ? mergeShapes(shapes[command], shape) : shape;
        return value as { id: string };
      };

      await cli('auth login', ['--credentials', credentialsFile()]);
      await cli('auth status', []);
      await cli('config set', ['org', 'default']);
      await cli('config show', []);
      await cli('config use', ['default']);
      await cli('org public-key', []);
      await cli('secret create', ['HF_TOKEN', '--from-stdin', '--description', 'Hugging Face hub'], { input: 'hf_value_1' });
      await cli('secret create', ['OLD', '--from-stdin'], { input: 'old_value' });
      await cli('secret update', ['HF_TOKEN', '--from-stdin'], { input: 'hf_value_2' });
      await cli('secret delete', ['OLD', '--yes']);
      await cli('secret list', ['--include-deleted']);
      const envFile = path.join(world.configDir, '..', 'shapes.env');
      writeFileSync(envFile, 'IMPORTED=1\nIMPORTED=2\nnot.a.key=3\n');
      await world.cli(['secret', 'import', envFile, '--continue-on-error', '-o', 'json']).then((r) => {
        expect(r.code, r.stderr).to.equal(1); // the invalid line fails, by design
        const shape = shapeOf(JSON.parse(r.stdout));
        shapes['secret import'] = shape;
      });

      // A job that keeps running, so that `secret show` lists it under usedBy; its --env
      // shadows one of its secrets, for a warning.
      const long = await cli('job create', ['-n', 'long', '-i', 'python:3.12', '--cmd', 'sleep 30', '--secret', 'HF_TOKEN', '--secret', 'HUB=HF_TOKEN', '--env', 'HF_TOKEN=shadowed']);
      // A running workspace with a variable and a file of the same secret, for usedByWorkspaces.
      await cli('workspace create', ['-n', 'shapes', '-i', 'python:3.12', '--secret', 'HF_TOKEN', '--secret-file', '/run/secrets/hub=HF_TOKEN', '--env', 'MODE=x']);
      await cli('secret update', ['HF_TOKEN', '--from-stdin'], { input: 'hf_value_3' }); // the long job's value is now stale
      await cli('secret show', ['HF_TOKEN']);
      await cli('workspace list', []);
      await cli('workspace show', ['shapes']);
      await cli('workspace stop', ['shapes']);
      await cli('workspace start', ['shapes']);
      await cli('workspace delete', ['shapes', '--yes']);
      await cli('job show', [long.id]);
      await cli('job restart', [long.id]);
      await cli('job terminate', [long.id]);

      // A job that ends, for the fields of a finished attempt.
      // (Not sampled as `job create`: whether it has ended by then is a matter of timing.)
      const short = json(await world.cli(['job', 'create', '-n', 'short', '-i', 'python:3.12', '--cmd', 'echo "hub=$HUB"', '--secret', 'HUB=HF_TOKEN', '-o', 'json'])) as { id: string };
      await waitForState(world, short.id, 'succeeded');
      await cli('job show', [short.id]);
      await cli('job list', []);
      await cli('job logs', [short.id]);

      await cli('auth logout', []);
      ok(await world.cli(['auth', 'login', '--credentials', credentialsFile()]));

      const types: Record<string, Shape> = {};
      foldSharedType(shapes, types, 'SecretJson', [['secret create', []], ['secret update', []], ['secret delete', []], ['secret list', ['[]']]]);
      foldSharedType(shapes, types, 'JobJson', [['job create', []], ['job restart', []], ['job terminate', []], ['job show', []], ['job list', ['[]']]]);
      foldSharedType(shapes, types, 'WorkspaceJson', [['workspace create', []], ['workspace show', []], ['workspace stop', []], ['workspace start', []], ['workspace list', ['[]']]]);
      expectSnapshot('cli-json-shapes.json', { commands: shapes, types }, 'The shape of `-o json` outputs');
    });

    it('writes enum values as the tables show them, and -o name prints one name or id a line', async () => {
      const secrets = json(await world.cli(['secret', 'list', '--include-deleted', '-o', 'json'])) as { name: string; state: string }[];
      expect([...new Set(secrets.map((s) => s.state))].sort()).to.deep.equal(['active', 'deleted']);
      const live = secrets.filter((s) => s.state === 'active').map((s) => s.name);
      expect(ok(await world.cli(['secret', 'list', '-o', 'name'])).stdout).to.equal(`${live.join('\n')}\n`);
      const jobs = json(await world.cli(['job', 'list', '-o', 'json'])) as { id: string; state: string }[];
      for (const job of jobs) expect(job.state).to.be.oneOf(['pending', 'running', 'succeeded', 'failed', 'cancelled']);
      expect(ok(await world.cli(['job', 'list', '-o', 'name'])).stdout).to.equal(`${jobs.map((j) => j.id).join('\n')}\n`);
      expect(ok(await world.cli(['secret', 'show', 'HF_TOKEN', '-o', 'name'])).stdout).to.equal('HF_TOKEN\n');
      expect(ok(await world.cli(['secret', 'list', '--include-deleted', '--jsonpath', '$[?(@.state=="deleted")].name'])).stdout).to.equal(
        `${secrets.filter((s) => s.state === 'deleted').map((s) => s.name).join('\n')}\n`,
      );
      const refused = await world.cli(['auth', 'status', '-o', 'name']);
      expect(refused.code).to.equal(2);
      expect(refused.stderr).to.equal('error: -o name: `vesslctl auth status` prints no named resource; use -o json\n');
    });

    describe('exits with a status scripts can trust (cli/exit-codes.ts)', () => {
      const rows: Array<{ name: string; args: string[]; input?: string; env?: () => Promise<Record<string, string>>; code: number }> = [
        { name: 'secret verify, the value matches', args: ['secret', 'verify', 'TAKEN', '--from-stdin'], input: 'taken_value', code: 0 },
        { name: 'secret verify, another value', args: ['secret', 'verify', 'TAKEN', '--from-stdin'], input: 'not it', code: 1 },
        { name: 'secret verify, no such secret', args: ['secret', 'verify', 'NOPE', '--from-stdin'], input: 'x', code: 3 },
        { name: 'secret verify, the server is down', args: ['secret', 'verify', 'TAKEN', '--from-stdin', '--endpoint', '127.0.0.1:1'], input: 'x', code: 5 },
        { name: 'audit verify, an intact log', args: ['audit', 'verify'], code: 0 },
        { name: 'audit verify, the server is down', args: ['audit', 'verify', '--endpoint', '127.0.0.1:1'], code: 5 },
        { name: 'a name the server refuses', args: ['secret', 'create', 'bad name', 'K', '--from-stdin'], input: 'x', code: 2 },
        { name: 'an unknown flag', args: ['secret', 'list', '--nope'], code: 2 },
        { name: 'auth status with an expired token', args: ['auth', 'status'], env: async () => ({ VESSLCTL_ACCESS_TOKEN: await expiredToken(world) }), code: 4 },
        { name: 'help exit-codes', args: ['help', 'exit-codes'], code: 0 },
      ];
      for (const row of rows) {
        it(`${row.name}: exit ${row.code}`, async () => {
          const r = await world.cli(row.args, { input: row.input, env: row.env ? await row.env() : undefined });
          expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).to.equal(row.code);
        });
      }
    });

    describe('prints one error line that says how to fix it', () => {
      /** Servers that are not vessl-secrets: an HTTP/1 server and a TLS server, and a CA file. */
      const peers = { http: '', tls: '', caFile: '' };
      const closers: Array<() => void> = [];
      before(async () => {
        const dir = path.join(world.configDir, '..', 'peers');
        mkdirSync(dir, { recursive: true });
        const key = path.join(dir, 'key.pem');
        peers.caFile = path.join(dir, 'cert.pem');
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', peers.caFile, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'pipe' });
        const http = createHttpServer((_req, res) => res.end('not gRPC'));
        const tls = createTlsServer({ key: readFileSync(key), cert: readFileSync(peers.caFile) }, (socket) => socket.end());
        for (const [server, name] of [[http, 'http'], [tls, 'tls']] as const) {
          await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
          peers[name] = `127.0.0.1:${(server.address() as AddressInfo).port}`;
          closers.push(() => server.close());
        }
      });
      after(() => closers.forEach((close) => close()));

      // Each row runs the real CLI; `env` replaces the world's logged-in settings where given.
      // `code` is the exit status the row must end with (cli/exit-codes.ts).
      const rows: Array<{ name: string; args: string[]; env?: () => Promise<Record<string, string>> | Record<string, string>; input?: string; line: RegExp; code: number }> = [
        {
          name: 'no token',
          args: ['secret', 'list'],
          env: () => ({ VESSLCTL_CONFIG_DIR: path.join(world.configDir, '..', 'empty-config') }),
          line: /^error: no token: run `vesslctl auth login`$/,
          code: 4,
        },
        {
          name: 'an expired token from the config file',
          args: ['secret', 'list'],
          env: async () => {
            const dir = path.join(world.configDir, '..', 'expired-config');
            ok(await world.cli(['config', 'set', 'token', await expiredToken(world)], { env: { VESSLCTL_CONFIG_DIR: dir } }));
            return { VESSLCTL_CONFIG_DIR: dir, VESSLCTL_ENDPOINT: world.server.endpoint };
          },
          line: /^error: token expired: run `vesslctl auth login` again$/,
          code: 4,
        },
        {
          name: 'an expired token from VESSLCTL_ACCESS_TOKEN',
          args: ['secret', 'list'],
          env: async () => ({ VESSLCTL_ACCESS_TOKEN: await expiredToken(world) }),
          line: /^error: token expired \(VESSLCTL_ACCESS_TOKEN\): set a fresh one, or unset it and run `vesslctl auth login`$/,
          code: 4,
        },
        {
          name: 'a server that is not running',
          args: ['secret', 'list', '--endpoint', '127.0.0.1:1'],
          line: /^error: cannot reach vessl-secrets at 127\.0\.0\.1:1 \(from --endpoint\): connection refused: nothing listens on that port; is the server running\? \(start it with `make up`\)$/,
          code: 5,
        },
        {
          name: 'a server that is not running, the endpoint from VESSLCTL_ENDPOINT',
          args: ['secret', 'list'],
          env: () => ({ VESSLCTL_ENDPOINT: '127.0.0.1:1' }),
          line: /^error: cannot reach vessl-secrets at 127\.0\.0\.1:1 \(from VESSLCTL_ENDPOINT\): connection refused/,
          code: 5,
        },
        {
          name: 'a port where an HTTP/1 server answers, not gRPC',
          args: ['secret', 'list'],
          env: () => ({ VESSLCTL_ENDPOINT: peers.http }),
          line: /^error: cannot reach vessl-secrets at 127\.0\.0\.1:\d+ \(from VESSLCTL_ENDPOINT\): what answers there is not a gRPC server/,
          code: 5,
        },
        {
          name: 'TLS (a CA given) against the plaintext server, at an IP address: no DEP0123 warning either',
          args: ['secret', 'list'],
          env: () => ({ VESSLCTL_CA_CERT: peers.caFile }),
          line: /^error: cannot reach vessl-secrets at 127\.0\.0\.1:\d+ \(from \S+config\.json\): the TLS handshake failed: the server answers in plaintext, not TLS/,
          code: 5,
        },
        {
          name: 'plaintext (loopback, no CA) against a TLS server',
          args: ['secret', 'list'],
          env: () => ({ VESSLCTL_ENDPOINT: peers.tls }),
          line: /^error: cannot reach vessl-secrets at 127\.0\.0\.1:\d+ \(from VESSLCTL_ENDPOINT\): the server speaks TLS, and vesslctl spoke plaintext .*pass --ca-cert FILE$/,
          code: 5,
        },
        {
          name: 'a host name that does not resolve',
          args: ['secret', 'list', '--endpoint', 'nohost.invalid:50051'],
          line: /^error: cannot reach vessl-secrets at nohost\.invalid:50051 \(from --endpoint\): the host name nohost\.invalid does not resolve \(DNS\)/,
          code: 5,
        },
        {
          name: 'a member changing a secret',
          args: ['secret', 'delete', 'TAKEN', '--yes'],
          env: () => ({ VESSLCTL_ACCESS_TOKEN: credentials.tokens.member }),
          line: /^error: role member may not .+ \(your role: member; ask an org admin\) \(PERMISSION_DENIED\)$/,
          code: 4,
        },
        {
          name: 'an unknown secret',
          args: ['secret', 'show', 'NOPE'],
          line: /^error: secret "NOPE" not found in org "default": run `vesslctl secret list` \(NOT_FOUND\)$/,
          code: 3,
        },
        {
          name: 'a secret name that is taken',
          args: ['secret', 'create', 'TAKEN', '--from-stdin'],
          input: 'another value',
          line: /^error: secret "TAKEN" already exists .*: use `vesslctl secret update TAKEN` \(ALREADY_EXISTS\)$/,
          code: 1,
        },
        {
          name: 'an unknown job',
          args: ['job', 'show', 'j_0123456789abcdef'],
          line: /^error: job "j_0123456789abcdef" not found .*: run `vesslctl job list` \(NOT_FOUND\)$/,
          code: 3,
        },
        {
          name: 'a secret KEY that would break the job, refused before anything is sent',
          args: ['secret', 'create', 'my-path', 'PATH', '--from-stdin', '--endpoint', '127.0.0.1:1'],
          input: 'x',
          line: /^error: KEY PATH decides which program each command of the job runs; .*pick another KEY \(e\.g\. MY_PATH\)$/,
          code: 2,
        },
        {
          name: 'a risky new KEY on update',
          args: ['secret', 'update', 'TAKEN', '--key', 'LD_PRELOAD'],
          line: /^error: KEY LD_PRELOAD is read by the dynamic loader/,
          code: 2,
        },
        {
          name: 'a missing argument',
          args: ['secret', 'show'],
          line: /^error: missing 1 required arg: name \(see `vesslctl secret show --help`\)$/,
          code: 2,
        },
        {
          name: 'a mistyped command',
          args: ['secret', 'lsit'],
          line: /^error: unknown command "secret lsit": did you mean `vesslctl secret list`\? \(see `vesslctl secret --help`\)$/,
          code: 2,
        },
        {
          name: 'a mistyped topic',
          args: ['secrte', 'list'],
          line: /^error: unknown command "secrte list": did you mean `vesslctl secret list`\? \(see `vesslctl --help`\)$/,
          code: 2,
        },
        {
          name: 'a command that is nothing like any',
          args: ['frobnicate'],
          line: /^error: unknown command "frobnicate" \(see `vesslctl --help`\)$/,
          code: 2,
        },
        {
          name: 'a mistyped flag',
          args: ['secret', 'list', '--include-delted'],
          line: /^error: nonexistent flag: --include-delted: did you mean --include-deleted\? \(see `vesslctl secret list --help`\)$/,
          code: 2,
        },
        {
          // Never the value of a mistyped value flag: it may be the secret itself.
          name: 'a mistyped value flag with its value',
          args: ['secret', 'create', 'X', '--valeu=hunter2-typo-value'],
          line: /^error: nonexistent flag: --valeu: did you mean --value\? \(see `vesslctl secret create --help`\)$/,
          code: 2,
        },
      ];
      for (const row of rows) {
        it(`${row.name} (exit ${row.code})`, async () => {
          const env = row.env ? await row.env() : undefined;
          expect(errorLine(await world.cli(row.args, { env, input: row.input }), row.code)).to.match(row.line);
        });
      }
    });
  });
});

/** A token that expired a moment ago (minted with the shortest TTL, then waited out). */
async function expiredToken(world: CliWorld): Promise<string> {
  const token = ok(await world.serverCommand(['token', 'mint', '--org', 'default', '--role', 'admin', '--subject', 'expired', '--ttl', '1s'])).stdout.trim();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  return token;
}

async function waitForState(world: CliWorld, id: string, state: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const job = json(await world.cli(['job', 'show', id, '-o', 'json'])) as { state?: string };
    if (job.state === state) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect.fail(`job ${id} did not reach ${state}`);
}
