import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadIssuerKeys, mintToken, ORG_PATTERN, ROLES, tooLongLived, type Role } from '../runtime/auth.js';
import { ConfigError, databaseSettings, listenAddress, metricsListenOf, parseCommonConfig, parseDuration, peerChannel, setting, type Flags } from '../runtime/config.js';
import { connectDatabase } from '../runtime/db.js';
import { SECRET_STORE_SERVICE } from '../secret-store/app.js';
import { purgeDestroyedValues } from '../secret-store/purge-destroyed.js';
import { createLogger } from '../runtime/logger.js';
import { masterKeysOf } from '../key-management/app.js';
import { jobLauncherSettings } from '../job-launcher/app.js';
import { checkWebListen, DEFAULT_WEB_LISTEN, startWebConsole, type RunningWebConsole } from '../web-console/web-console.js';
import { startAllInOne } from './all-in-one.js';
import { credentialsFile, ensureCredentials } from './credentials.js';

const USAGE = `vessl-secrets: the vessl-secrets server

  vessl-secrets up [--listen HOST:PORT] [--web-listen HOST:PORT] [--data-dir DIR] [--database-url URL]
                   [--org ORG] [--job-backend local|kubernetes] [--job-namespace 'vessl-{org}']
                   [--metrics-listen HOST:PORT] [--job-network shared|isolated] [--unsafe-no-job-sandbox]
                   [--master-key-provider file|pkcs11 --pkcs11-module LIB
                    (--pkcs11-token-label LABEL | --pkcs11-slot N) --pkcs11-pin-file FILE]
      Runs key-management, secret-store and job-launcher in one process on one port (the
      embedded default), and the web console on its own HTTP port.
      Master keys: in the keyring file in the data dir (file, the default: a copy of the data
      dir exposes every value), or generated in an HSM token over PKCS#11 that they never leave
      (pkcs11: a copy of the data dir exposes none). PIN from VESSL_PKCS11_PIN_FILE or VESSL_PKCS11_PIN.
      Env: VESSL_LISTEN (127.0.0.1:50051), VESSL_WEB_LISTEN (127.0.0.1:8080), VESSL_DATA_DIR (./.vessl),
      VESSL_DATABASE_URL (SQLite files in the data dir unless postgres://...),
      VESSL_MASTER_KEYRING_FILE, VESSL_JOB_BACKEND (local), VESSL_JOB_NAMESPACE,
      VESSL_METRICS_LISTEN (Prometheus metrics at http://HOST:PORT/metrics; off when unset).
      Tokens that live longer than VESSL_MAX_TOKEN_LIFETIME (users; 30d) or
      VESSL_MAX_SERVICE_TOKEN_LIFETIME (services; 1d) are refused, whoever signed them.
      Local jobs run in a bubblewrap sandbox (docs/isolation.md): VESSL_JOB_NETWORK (shared, or
      isolated: loopback only), VESSL_JOB_WORK_ROOT (jobs' work dirs; default under the temp dir),
      VESSL_JOB_UIDS (FIRST-LAST host uids for jobs when run as root; 2000000000-2000065535).
      VESSL_MAX_LOG_STREAMS_PER_PRINCIPAL (16): job log streams one caller may have open at once.
      --unsafe-no-job-sandbox (VESSL_UNSAFE_NO_JOB_SANDBOX=true) runs jobs WITHOUT a sandbox, as this
      server's user with its view of the files: for a single-user machine only.

  vessl-secrets maintenance purge-destroyed [--data-dir DIR] [--database-url URL]
      Forces destroyed values (deleted secrets, rotated-out versions, data keys wrapped by an
      old master key) out of the secret-store's database files. PostgreSQL keeps old row
      versions until VACUUM: this runs VACUUM FULL on the secrets table (it locks the table
      while it runs) and a CHECKPOINT; what remains elsewhere is listed in docs/crypto.md.
      SQLite: a WAL checkpoint (the server already makes one after every delete and rotation).

  vessl-secrets token mint --org ORG --role ROLE --subject SUB [--ttl DURATION] [--data-dir DIR]
      Prints a token signed by the embedded issuer in the data dir. ROLE: ${ROLES.join(', ')}.
      DURATION: e.g. 30m, 12h, 7d (default 1h); at most the server's maximum token lifetime.
`;

class UsageError extends Error {}

function ttlOf(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined) throw new UsageError(`--ttl "${text}" is not a duration like 30m, 12h or 7d`);
  return seconds;
}

async function up(flags: Flags): Promise<void> {
  const config = parseCommonConfig(flags);
  const listen = listenAddress(setting(flags, 'listen'), '127.0.0.1:50051');
  const webListen = listenAddress(setting(flags, 'web-listen'), DEFAULT_WEB_LISTEN);
  checkWebListen(webListen, config.tls);
  const org = setting(flags, 'org') ?? 'default';
  if (!ORG_PATTERN.test(org)) throw new ConfigError(`--org "${org}" is not a valid org name`);
  process.umask(0o077); // every file the server creates (databases, WAL, keyring) is 0600
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const log = createLogger('vessl-secrets');
  const running = await startAllInOne(config, {
    listen,
    masterKeys: masterKeysOf(config, flags),
    jobs: jobLauncherSettings(flags),
    log,
    metricsListen: metricsListenOf(flags),
  });
  let web: RunningWebConsole;
  try {
    web = await startWebConsole({ listen: webListen, grpcEndpoint: running.endpoint, grpcChannel: peerChannel(config), tls: config.tls, log });
  } catch (err) {
    await running.stop();
    throw err;
  }
  // Handlers first: a supervisor may signal as soon as it reads the ready line.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight calls');
    Promise.all([web.close(), running.stop()]).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const keys = await loadIssuerKeys(config.dataDir, true);
  const { written } = await ensureCredentials(config.dataDir, running.endpoint, org, keys, config.tokens);
  const file = credentialsFile(config.dataDir);
  process.stdout.write(
    [
      `vessl-secrets is serving on ${running.endpoint} (data: ${config.dataDir}, database: ${config.databaseUrl ? 'PostgreSQL' : 'SQLite'}, master keys: ${running.masterKeys})`,
      `${written ? 'Wrote' : 'Using'} ${file}: admin, member and operator tokens for org "${org}".`,
      `Log in as the admin:   vesslctl auth login --credentials ${file}`,
      `or as a member:        vesslctl auth login --credentials ${file} --role member`,
      `Web console:           ${web.url} (log in with a token from ${file})`,
      `More tokens:           vessl-secrets token mint --org ${org} --role member --subject alice`,
      ...(running.metricsUrl ? [`Prometheus metrics:    ${running.metricsUrl}`] : []),
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
}

async function purgeDestroyed(flags: Flags): Promise<void> {
  const config = parseCommonConfig(flags);
  const knex = connectDatabase(databaseSettings(config, SECRET_STORE_SERVICE));
  try {
    const report = await purgeDestroyedValues(knex);
    process.stdout.write(`${report.engine === 'postgres' ? 'PostgreSQL' : 'SQLite'}: ${report.steps.join('; ')}.\n`);
  } finally {
    await knex.destroy();
  }
}

async function tokenMint(flags: Flags): Promise<void> {
  const config = parseCommonConfig(flags);
  const { org, role, subject } = flags;
  if (!role || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  if (!subject) throw new UsageError('--subject is required (who the token is for, e.g. alice or svc:job-launcher)');
  if (role !== 'service' && (!org || !ORG_PATTERN.test(org))) throw new UsageError('--org is required: a valid org name');
  const ttlSeconds = ttlOf(flags.ttl ?? '1h');
  // Refused here, before the key is read: the server would refuse such a token on every call.
  if (ttlSeconds > config.tokens.maxLifetime![role === 'service' ? 'service' : 'user']) {
    throw new UsageError(`--ttl ${flags.ttl}: ${tooLongLived(role as Role, config.tokens)} (VESSL_MAX_TOKEN_LIFETIME, VESSL_MAX_SERVICE_TOKEN_LIFETIME)`);
  }
  const keys = await loadIssuerKeys(config.dataDir, false);
  const token = await mintToken(keys.privateKey, { subject, org: org ?? '', role: role as Role, ttlSeconds, settings: config.tokens });
  process.stdout.write(token + '\n');
}

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      listen: { type: 'string' },
      'web-listen': { type: 'string' },
      'metrics-listen': { type: 'string' },
      'data-dir': { type: 'string' },
      'database-url': { type: 'string' },
      'master-keyring-file': { type: 'string' },
      'master-key-provider': { type: 'string' },
      'pkcs11-module': { type: 'string' },
      'pkcs11-token-label': { type: 'string' },
      'pkcs11-slot': { type: 'string' },
      'pkcs11-pin-file': { type: 'string' },
      'job-backend': { type: 'string' },
      'job-namespace': { type: 'string' },
      'job-network': { type: 'string' },
      'job-work-root': { type: 'string' },
      'job-uids': { type: 'string' },
      'max-log-streams-per-principal': { type: 'string' },
      'unsafe-no-job-sandbox': { type: 'boolean' },
      org: { type: 'string' },
      role: { type: 'string' },
      subject: { type: 'string' },
      ttl: { type: 'string' },
      'max-token-lifetime': { type: 'string' },
      'max-service-token-lifetime': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const { 'unsafe-no-job-sandbox': unsafe, ...rest } = values;
  const flags = { ...rest, ...(unsafe && { 'unsafe-no-job-sandbox': 'true' }) } as Flags & { help?: boolean };
  const command = positionals.join(' ');
  if (flags.help || command === '' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === 'up') return up(flags);
  if (command === 'token mint') return tokenMint(flags);
  if (command === 'maintenance purge-destroyed') return purgeDestroyed(flags);
  throw new UsageError(`unknown command "${command}"`);
}

export function run(argv: string[]): void {
  main(argv).catch((err: unknown) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`error: ${(err as Error).message}\n${usage ? 'Run `vessl-secrets --help` for usage.\n' : ''}`);
    process.exit(usage ? 2 : 1);
  });
}
