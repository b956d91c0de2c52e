import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CommandError, EXPIRED_TOKEN_MESSAGE, NO_TOKEN_MESSAGE } from './errors.js';
import { EXIT } from './exit-codes.js';
import { decodeTokenClaims, type TokenClaims } from '../services/runtime/token-claims.js';

export const DEFAULT_ENDPOINT = '127.0.0.1:50051';
export const CONFIG_KEYS = ['endpoint', 'org', 'token', 'ca-cert'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** What `auth login` / `config set` store in config.json, for one profile. */
export type ConfigFile = Partial<Record<ConfigKey, string>>;

/**
 * Profiles: named sets of settings in the one config.json. The default profile's settings sit at
 * the top level (where they were before profiles existed), the others under "profiles", and
 * `vesslctl config use NAME` records the one in use under "profile".
 */
export const DEFAULT_PROFILE = 'default';
export const PROFILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type SettingSource = 'flag' | 'env' | 'config' | 'token' | 'default';

export interface Setting {
  value: string;
  source: SettingSource;
}

export interface Settings {
  configDir: string;
  configFile: string;
  /** The profile of the config file in use: --profile, VESSLCTL_PROFILE, `config use`, or default. */
  profile: Setting;
  endpoint: Setting;
  token?: Setting;
  org?: Setting;
  /** A PEM file of the CA that signed the server's certificate (else the system's roots). */
  caCert?: Setting;
  /** The token's unverified claims, when the token is a JWT. */
  claims?: TokenClaims;
}

/** Everything a call to the server needs. */
export interface Connection {
  endpoint: string;
  /** Where the endpoint came from, for error lines: "--endpoint", "VESSLCTL_ENDPOINT", ... */
  endpointOrigin?: string;
  org: string;
  token: string;
  configDir: string;
  /** PEM file of the CA to trust for the server's TLS certificate. */
  caCert?: string;
}

type Env = Record<string, string | undefined>;

/** $VESSLCTL_CONFIG_DIR, else $XDG_CONFIG_HOME/vesslctl, else ~/.config/vesslctl. */
export function configDir(env: Env = process.env): string {
  if (env.VESSLCTL_CONFIG_DIR) return env.VESSLCTL_CONFIG_DIR;
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'vesslctl');
}

export const configFilePath = (dir: string) => path.join(dir, 'config.json');

/** Reads a JSON file of ours; a missing file is `undefined`, a broken one is an error. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CommandError(`cannot read ${file}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CommandError(`${file} is not valid JSON: fix or delete it`);
  }
}

/** The whole config.json as an object ({} when there is none). */
function readConfigDocument(dir: string): Record<string, unknown> {
  const file = configFilePath(dir);
  const raw = readJsonFile(file);
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CommandError(`${file} must hold a JSON object: fix or delete it`);
  return raw as Record<string, unknown>;
}

/** The profiles saved under "profiles" (an object of objects; anything else is ignored). */
function savedProfiles(document: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const profiles = document.profiles;
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) return {};
  return Object.fromEntries(Object.entries(profiles).filter((entry): entry is [string, Record<string, unknown>] => typeof entry[1] === 'object' && entry[1] !== null));
}

function configOf(raw: Record<string, unknown>): ConfigFile {
  const config: ConfigFile = {};
  for (const key of CONFIG_KEYS) {
    const value = raw[key];
    if (typeof value === 'string' && value !== '') config[key] = value;
  }
  return config;
}

/** One profile's settings ({} for a profile that has none). */
export function readConfigFile(dir: string, profile = DEFAULT_PROFILE): ConfigFile {
  const document = readConfigDocument(dir);
  return configOf(profile === DEFAULT_PROFILE ? document : (savedProfiles(document)[profile] ?? {}));
}

/** The profiles that have settings: default first, then the others by name. */
export function profileNames(dir: string): string[] {
  return [DEFAULT_PROFILE, ...Object.keys(savedProfiles(readConfigDocument(dir))).filter((name) => name !== DEFAULT_PROFILE).sort()];
}

/** --profile over VESSLCTL_PROFILE over `config use` over default; the name must be well-formed. */
export function resolveProfile(flag: string | undefined, dir: string, env: Env = process.env): Setting {
  const used = readConfigDocument(dir).profile;
  const profile = firstSet([flag, 'flag'], [env.VESSLCTL_PROFILE, 'env'], [typeof used === 'string' ? used : undefined, 'config']) ?? { value: DEFAULT_PROFILE, source: 'default' };
  return { ...profile, value: checkProfileName(profile.value) };
}

export function checkProfileName(name: string): string {
  if (!PROFILE_PATTERN.test(name)) throw new CommandError(`profile "${name}" must match ${PROFILE_PATTERN.source}`);
  return name;
}

/** Records `profile` as the one in use (`vesslctl config use`); the default profile clears it. */
export function useProfile(dir: string, profile: string): string {
  const { profile: _previous, ...document } = readConfigDocument(dir);
  return writePrivateFile(dir, 'config.json', `${JSON.stringify(profile === DEFAULT_PROFILE ? document : { ...document, profile }, null, 2)}\n`);
}

/**
 * Writes a file only the user can read (the config holds a token): the directory is
 * created 0700, the file is written 0600 under a temporary name and renamed into place,
 * so a reader never sees half a file.
 */
export function writePrivateFile(dir: string, name: string, content: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = path.join(dir, name);
  const temporary = path.join(dir, `.${name}.${process.pid}.tmp`);
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, target);
  return target;
}

/** Replaces one profile's settings, keeping the other profiles. */
export function writeConfigFile(dir: string, config: ConfigFile, profile = DEFAULT_PROFILE): string {
  const document = readConfigDocument(dir);
  const others = Object.fromEntries(Object.entries(document).filter(([key]) => !(CONFIG_KEYS as readonly string[]).includes(key)));
  const next =
    profile === DEFAULT_PROFILE
      ? { ...config, ...others }
      : { ...document, profiles: { ...savedProfiles(document), [profile]: config } };
  return writePrivateFile(dir, 'config.json', `${JSON.stringify(next, null, 2)}\n`);
}

/** The first candidate that has a value; empty strings count as unset. */
function firstSet(...candidates: Array<[string | undefined, SettingSource]>): Setting | undefined {
  for (const [value, source] of candidates) if (value !== undefined && value !== '') return { value, source };
  return undefined;
}

/**
 * Flags over env (VESSLCTL_ENDPOINT, VESSLCTL_ACCESS_TOKEN, VESSLCTL_ORG, VESSLCTL_CA_CERT) over the config
 * file's profile in use; the org falls back to the token's `org` claim, the endpoint to 127.0.0.1:50051.
 */
export function resolveSettings(flags: { endpoint?: string; org?: string; caCert?: string; profile?: string }, env: Env = process.env): Settings {
  const dir = configDir(env);
  const profile = resolveProfile(flags.profile, dir, env);
  const config = readConfigFile(dir, profile.value);
  const token = firstSet([env.VESSLCTL_ACCESS_TOKEN, 'env'], [config.token, 'config']);
  const claims = token ? decodeTokenClaims(token.value) : undefined;
  return {
    configDir: dir,
    configFile: configFilePath(dir),
    profile,
    endpoint: firstSet(
      [flags.endpoint, 'flag'],
      [env.VESSLCTL_ENDPOINT, 'env'],
      [config.endpoint, 'config'],
    ) ?? { value: DEFAULT_ENDPOINT, source: 'default' },
    token,
    org: firstSet([flags.org, 'flag'], [env.VESSLCTL_ORG, 'env'], [config.org, 'config'], [claims?.org, 'token']),
    caCert: firstSet([flags.caCert, 'flag'], [env.VESSLCTL_CA_CERT, 'env'], [config['ca-cert'], 'config']),
    claims,
  };
}

const ENDPOINT_PATTERN = /^(\[[^\]\s]+\]|[^:/\s]+):(\d{1,5})$/;

export function checkEndpoint(endpoint: string, origin = 'endpoint'): string {
  const match = ENDPOINT_PATTERN.exec(endpoint);
  if (!match || Number(match[2]) > 65535) {
    throw new CommandError(`${origin} "${endpoint}" must be HOST:PORT, e.g. ${DEFAULT_ENDPOINT}`);
  }
  return endpoint;
}

/** The settings a server call needs, or an error that says how to provide the missing one. */
export function requireConnection(settings: Settings): Connection {
  if (!settings.token) throw new CommandError(NO_TOKEN_MESSAGE, { exitCode: EXIT.AUTH });
  if (isExpired(settings.claims)) {
    // A token from the environment is not replaced by logging in: say where it comes from.
    throw new CommandError(
      settings.token.source === 'env' ? 'token expired (VESSLCTL_ACCESS_TOKEN): set a fresh one, or unset it and run `vesslctl auth login`' : EXPIRED_TOKEN_MESSAGE,
      { exitCode: EXIT.AUTH },
    );
  }
  if (!settings.org) {
    throw new CommandError('no org: pass --org ORG, set VESSLCTL_ORG, or run `vesslctl auth login --org ORG`');
  }
  const origin = endpointOrigin(settings);
  const endpoint = checkEndpoint(settings.endpoint.value, `endpoint (from ${origin})`);
  return { endpoint, endpointOrigin: origin, org: settings.org.value, token: settings.token.value, configDir: settings.configDir, caCert: settings.caCert && checkCaCert(settings.caCert.value) };
}

/** Where the endpoint in use came from, as error lines name it ("default" when nothing set it). */
export function endpointOrigin(settings: Pick<Settings, 'endpoint' | 'profile' | 'configFile'>): string {
  switch (settings.endpoint.source) {
    case 'flag':
      return '--endpoint';
    case 'env':
      return 'VESSLCTL_ENDPOINT';
    case 'config':
      return settings.profile.value === DEFAULT_PROFILE ? settings.configFile : `profile ${settings.profile.value} of ${settings.configFile}`;
    default:
      return 'default';
  }
}

/** The CA file must hold a PEM certificate; an absolute path is stored, so it works from any folder. */
export function checkCaCert(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read the CA certificate ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): pass --ca-cert with a PEM file`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new CommandError(`${file} is not a PEM certificate (no BEGIN CERTIFICATE line)`);
  return path.resolve(file);
}

/** True when the token's `exp` claim has passed (by this machine's clock; the server decides). */
export const isExpired = (claims: TokenClaims | undefined, now = Date.now()) => claims?.exp !== undefined && claims.exp * 1000 <= now;
