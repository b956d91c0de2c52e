import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { listenAddress, metricsListenOf, parseCommonConfig, setting, type CommonConfig, type Flags } from './config.js';
import { CallTracker, startGrpcServer, type RegisteredService } from './grpc-server.js';
import { createLogger, type Logger } from './logger.js';
import { loadDescriptorSet } from './repo-files.js';
import { watchHealth } from './health-watch.js';
import { startMetricsServer } from './metrics.js';

export interface StandaloneParts {
  services: RegisteredService[];
  /** Dependency checks for health (database pings). */
  checks: (() => Promise<void>)[];
  close(): Promise<void>;
}

export interface StandaloneService {
  name: string;
  defaultListen: string;
  /** Extra flags this service reads (besides the common ones). */
  flags: string[];
  usage: string;
  build(config: CommonConfig, flags: Flags, log: Logger, tracker: CallTracker): Promise<StandaloneParts>;
}

const COMMON_FLAGS = ['listen', 'metrics-listen', 'health-listen', 'data-dir', 'database-url', 'tls-cert-file', 'tls-key-file', 'tls-client-ca-file', 'jwks-url', 'jwt-issuer', 'jwt-audience', 'service-token-file', 'max-token-lifetime', 'max-service-token-lifetime'];

/** Runs one service alone: its own config, port, database and health; SIGTERM drains. */
export async function runStandalone(spec: StandaloneService, argv: string[]): Promise<void> {
  const options = Object.fromEntries([...COMMON_FLAGS, ...spec.flags].map((f) => [f, { type: 'string' as const }]));
  const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    process.stdout.write(spec.usage);
    return;
  }
  const flags = values as Flags;
  const config = parseCommonConfig(flags);
  const listen = listenAddress(setting(flags, 'listen'), spec.defaultListen);
  const metricsListen = metricsListenOf(flags);
  process.umask(0o077);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const log = createLogger(spec.name);
  const tracker = new CallTracker();
  const parts = await spec.build(config, flags, log, tracker);
  const healthListen = setting(flags, 'health-listen');
  const server = await startGrpcServer({
    listen,
    tls: config.tls,
    log,
    tracker,
    descriptorSet: loadDescriptorSet(),
    services: parts.services,
    healthListen: healthListen === undefined ? undefined : listenAddress(healthListen, healthListen),
  });
  const stopWatch = await watchHealth(server, parts.checks, log);
  const metrics = metricsListen ? await startMetricsServer(metricsListen, tracker.metrics, log) : undefined;
  const stop = async () => {
    stopWatch();
    await server.shutdown();
    await metrics?.close();
    await parts.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdout.write(`${spec.name} is serving on ${listen.replace(/:0$/, `:${server.port}`)}\n`);
  if (server.healthPort !== undefined && healthListen) process.stdout.write(`${spec.name} health: ${healthListen.replace(/:0$/, `:${server.healthPort}`)}\n`);
  if (metrics && metricsListen) process.stdout.write(`${spec.name} metrics: http://${metricsListen.replace(/:0$/, `:${metrics.port}`)}/metrics\n`);
}

export function mainOf(spec: StandaloneService): void {
  runStandalone(spec, process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
