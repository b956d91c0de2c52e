import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import path from 'node:path';
import {
  createTokenVerifier,
  DEFAULT_MAX_TOKEN_LIFETIMES,
  embeddedServiceTokens,
  EMBEDDED_TOKEN_SETTINGS,
  loadIssuerKeys,
  remoteKeySet,
  type ServiceTokenSource,
  type TokenSettings,
  type TokenVerifier,
} from './auth.js';
import type { DatabaseSettings } from './db.js';
import { splitHostPort } from './endpoint.js';
import type { TlsSettings } from './grpc-server.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Settings every service shares, parsed once at startup: flags over env over defaults. */
export interface CommonConfig {
  dataDir: string;
  databaseUrl?: string;
  tls?: TlsSettings;
  /** How this service's clients reach the other services (TLS when the server uses TLS). */
  peerTls?: PeerTls;
  tokens: TokenSettings & { jwksUrl?: string; serviceTokenFile?: string };
}

export type Flags = Record<string, string | undefined>;

/** Looks a setting up in flags (kebab-case) first, then in env (VESSL_ + upper snake case). */
export function setting(flags: Flags, name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const flag = flags[name];
  if (flag !== undefined && flag !== '') return flag;
  const value = env[`VESSL_${name.toUpperCase().replace(/-/g, '_')}`];
  return value === '' ? undefined : value;
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "12h", "7d" in seconds; undefined when the text is no such duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,6})([smhd])$/.exec(text);
  return match ? Number(match[1]) * DURATION_UNITS[match[2]] : undefined;
}

/** A positive duration setting (flag or env), or its default. */
function durationSetting(flags: Flags, name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const text = setting(flags, name, env);
  if (text === undefined) return fallback;
  const seconds = parseDuration(text);
  if (!seconds) throw new ConfigError(`VESSL_${name.toUpperCase().replace(/-/g, '_')} "${text}" is not a duration like 30m, 12h or 30d`);
  return seconds;
}

export function parseCommonConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env): CommonConfig {
  const databaseUrl = setting(flags, 'database-url', env);
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('VESSL_DATABASE_URL must be a postgres:// URL (leave it unset for the embedded SQLite files)');
  }
  const certFile = setting(flags, 'tls-cert-file', env);
  const keyFile = setting(flags, 'tls-key-file', env);
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError('VESSL_TLS_CERT_FILE and VESSL_TLS_KEY_FILE must be set together');
  }
  const tls = certFile && keyFile ? { certFile, keyFile, clientCaFile: setting(flags, 'tls-client-ca-file', env) } : undefined;
  const peerTls: PeerTls | undefined = tls
    ? {
        // The CA that signed the peers' certificates; a self-signed server cert is its own CA.
        caFile: setting(flags, 'tls-ca-file', env) ?? tls.certFile,
        // Present our certificate when peers verify clients (mutual TLS).
        certFile: setting(flags, 'tls-client-cert-file', env) ?? (tls.clientCaFile ? tls.certFile : undefined),
        keyFile: setting(flags, 'tls-client-key-file', env) ?? (tls.clientCaFile ? tls.keyFile : undefined),
        serverName: setting(flags, 'tls-server-name', env),
      }
    : undefined;
  return {
    dataDir: path.resolve(setting(flags, 'data-dir', env) ?? '.vessl'),
    databaseUrl,
    tls,
    peerTls,
    tokens: {
      issuer: setting(flags, 'jwt-issuer', env) ?? EMBEDDED_TOKEN_SETTINGS.issuer,
      audience: setting(flags, 'jwt-audience', env) ?? EMBEDDED_TOKEN_SETTINGS.audience,
      jwksUrl: setting(flags, 'jwks-url', env),
      serviceTokenFile: setting(flags, 'service-token-file', env),
      // Tokens living longer than these are refused, whoever signed them (DESIGN §3).
      maxLifetime: {
        user: durationSetting(flags, 'max-token-lifetime', DEFAULT_MAX_TOKEN_LIFETIMES.user, env),
        service: durationSetting(flags, 'max-service-token-lifetime', DEFAULT_MAX_TOKEN_LIFETIMES.service, env),
      },
    },
  };
}

export interface PeerTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
  /** The name the peers' certificates carry, when it differs from the address dialled. */
  serverName?: string;
}

/**
 * Calls between services spread over every address a peer's name resolves to (a headless
 * Service's ready pods), not just the first one (grpc-js' default, pick_first). Not for the
 * CLI: round_robin reconnects eagerly while a lone server restarts, so a call right after
 * fails at once instead of waiting for the connection.
 */
const PEER_BALANCING: ChannelOptions = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  // A new client connects afresh instead of inheriting a shared connection's failure backoff.
  'grpc.use_local_subchannel_pool': 1,
};

/** Channel settings for calls to other services: plaintext (loopback only) or TLS. */
export function peerChannel(config: CommonConfig): { credentials?: ChannelCredentials; channelOptions?: ChannelOptions } {
  const tls = config.peerTls;
  if (!tls) return { channelOptions: PEER_BALANCING };
  return {
    credentials: credentials.createSsl(
      readFileSync(tls.caFile),
      tls.keyFile ? readFileSync(tls.keyFile) : null,
      tls.certFile ? readFileSync(tls.certFile) : null,
    ),
    channelOptions: { ...PEER_BALANCING, ...(tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName } : {}) },
  };
}

export function listenAddress(value: string | undefined, fallback: string): string {
  const listen = value ?? fallback;
  try {
    splitHostPort(listen);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return listen;
}

/** Where Prometheus metrics are served over HTTP (VESSL_METRICS_LISTEN); none when unset. */
export function metricsListenOf(flags: Flags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = setting(flags, 'metrics-listen', env);
  return value === undefined ? undefined : listenAddress(value, value);
}

export function databaseSettings(config: CommonConfig, service: string): DatabaseSettings {
  return { url: config.databaseUrl, sqliteFile: path.join(config.dataDir, `${service}.sqlite`) };
}

/**
 * How this process verifies callers and proves itself to other services: the platform's
 * JWKS and a mounted service token in a cluster, or the embedded issuer in the data dir.
 */
export async function identityFor(
  config: CommonConfig,
  serviceName: string,
  createIssuer: boolean,
): Promise<{ verifier: TokenVerifier; serviceToken: ServiceTokenSource }> {
  if (config.tokens.jwksUrl) {
    const file = config.tokens.serviceTokenFile;
    if (!file) throw new ConfigError('VESSL_JWKS_URL needs VESSL_SERVICE_TOKEN_FILE (this service\'s own token)');
    // Re-read on every call: the platform rotates the mounted token file.
    const serviceToken = async () => (await readFile(file, 'utf8')).trim();
    return { verifier: createTokenVerifier(remoteKeySet(config.tokens.jwksUrl), config.tokens), serviceToken };
  }
  const keys = await loadIssuerKeys(config.dataDir, createIssuer);
  return {
    verifier: createTokenVerifier(keys.publicKey, config.tokens),
    serviceToken: embeddedServiceTokens(keys, serviceName, config.tokens),
  };
}
