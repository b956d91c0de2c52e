import { Flags } from '../../oclif.js';
import { BaseCommand } from '../../base-command.js';
import { formatTime } from '../../output.js';
import { CommandError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { OrgKeyCache } from '../../sealing.js';
import { checkCaCert, checkEndpoint, endpointOrigin, readConfigFile, readJsonFile, writeConfigFile } from '../../settings.js';
import { isInteractive, readAllBytes, readHiddenLine } from '../../terminal.js';
import { decodeTokenClaims } from '../../../services/runtime/token-claims.js';

const ROLES = ['admin', 'member', 'operator'] as const;
const MAX_TOKEN_BYTES = 16 * 1024;

export interface LoginResult {
  endpoint: string;
  org: string;
  /** '' when the token names none (not a JWT). */
  subject: string;
  role: string;
  expiresAt: string | null;
  /** False for operator tokens, which cannot call GetOrgPublicKey to prove themselves. */
  verified: boolean;
  configFile: string;
}

export default class AuthLogin extends BaseCommand<typeof AuthLogin> {
  static override summary = 'Save an endpoint and access token for later commands, after checking that they work.';
  static override description = `The token comes from --token, from a server's credentials.json (--credentials, with --role), or is read without echo from the terminal (from standard input when that is not a terminal). It is checked by fetching the org public key; nothing is saved when that fails. Operator tokens cannot fetch org keys and are saved unchecked.
Settings go to $VESSLCTL_CONFIG_DIR/config.json (default $XDG_CONFIG_HOME/vesslctl, else ~/.config/vesslctl), readable only by you.`;

  static override examples = [
    {
      description: 'Use the credentials the embedded server wrote on its first start',
      command: '<%= config.bin %> auth login --credentials .vessl/credentials.json',
    },
    {
      description: 'A member token for another server, typed at the prompt',
      command: '<%= config.bin %> auth login --endpoint secrets.example.com:443 --org acme',
    },
    {
      description: 'From a pipe, e.g. in CI',
      command: 'vessl-secrets token mint --org acme --role member --subject ci | <%= config.bin %> auth login',
    },
  ];

  static override flags = {
    token: Flags.string({ description: 'The access token (visible in shell history; prefer the prompt or a pipe).', helpValue: 'T' }),
    credentials: Flags.string({ description: 'A server\'s credentials.json: its endpoint, org and the --role token.', helpValue: 'FILE' }),
    role: Flags.option({ options: ROLES, default: 'admin' as const, description: 'Which token of --credentials to use.' })(),
  };

  async run(): Promise<LoginResult> {
    const { flags } = this;
    if (flags.token !== undefined && flags.credentials !== undefined) {
      throw new CommandError('give either --token or --credentials, not both');
    }
    const credentials = flags.credentials === undefined ? undefined : readCredentials(flags.credentials, flags.role);
    const token = flags.token ?? credentials?.token ?? (await readToken());
    const claims = decodeTokenClaims(token);
    const endpoint = checkEndpoint(flags.endpoint ?? credentials?.endpoint ?? this.settings.endpoint.value);
    const origin = flags.endpoint !== undefined ? '--endpoint' : credentials?.endpoint !== undefined ? `--credentials ${flags.credentials}` : endpointOrigin(this.settings);
    // An org named explicitly is saved; otherwise the token's own org claim applies later.
    const explicitOrg = flags.org ?? credentials?.org;
    const org = explicitOrg ?? claims?.org ?? process.env.VESSLCTL_ORG;
    if (!org) throw new CommandError('no org: the token names none; pass --org ORG');
    const expiresAt = claims?.exp === undefined ? undefined : new Date(claims.exp * 1000);
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new CommandError(`the token expired at ${formatTime(expiresAt.toISOString())}; nothing was saved`, { exitCode: EXIT.AUTH });
    }

    // A CA given now is checked by this login and saved with the endpoint.
    const caCert = this.settings.caCert && checkCaCert(this.settings.caCert.value);
    const role = claims?.role ?? flags.role;
    const verified = role !== 'operator';
    if (verified) {
      const api = await this.openApi({ endpoint, endpointOrigin: origin, org, token, configDir: this.settings.configDir, caCert });
      try {
        await new OrgKeyCache(api).refresh(); // proves the token, and warms the key cache
      } catch (err) {
        throw new CommandError(`login to ${endpoint} failed, nothing was saved`, { cause: err });
      }
    }

    const { configDir, profile } = this.settings;
    const saved = { ...readConfigFile(configDir, profile.value), endpoint, token, org: explicitOrg, 'ca-cert': caCert };
    const configFile = writeConfigFile(configDir, saved, profile.value);
    const result: LoginResult = {
      endpoint,
      org,
      subject: claims?.sub ?? '',
      role: claims?.role ?? '',
      expiresAt: expiresAt?.toISOString() ?? null,
      verified,
      configFile,
    };
    return this.print(result, (r) =>
      [
        `Logged in to ${r.endpoint} as ${r.subject || 'an unknown subject'} (${r.role || 'unknown role'}) in org ${r.org}.`,
        ...(r.verified ? [] : ['The token was not checked: operator tokens cannot fetch org keys.']),
        ...(r.expiresAt ? [`The token expires at ${formatTime(r.expiresAt)}.`] : []),
        `Saved to ${r.configFile}.`,
      ].join('\n'),
    );
  }
}

interface Credentials {
  endpoint?: string;
  org?: string;
  token: string;
}

/** A server's credentials.json (DESIGN §8): {"endpoint", "org", "tokens": {role: token}}. */
function readCredentials(file: string, role: string): Credentials {
  const raw = readJsonFile(file);
  if (raw === undefined) throw new CommandError(`--credentials ${file}: no such file`);
  const { endpoint, org, tokens } = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const token = typeof tokens === 'object' && tokens !== null ? (tokens as Record<string, unknown>)[role] : undefined;
  if (typeof token !== 'string' || token === '') throw new CommandError(`--credentials ${file} has no "${role}" token`);
  return {
    endpoint: typeof endpoint === 'string' && endpoint !== '' ? endpoint : undefined,
    org: typeof org === 'string' && org !== '' ? org : undefined,
    token,
  };
}

/** Prompts without echo on a terminal; otherwise reads standard input (e.g. a pipe in CI). */
async function readToken(): Promise<string> {
  const bytes = isInteractive()
    ? await readHiddenLine('Access token (input hidden): ', MAX_TOKEN_BYTES)
    : await readAllBytes(process.stdin, MAX_TOKEN_BYTES, 'the token on standard input');
  const token = bytes.toString('utf8').trim();
  bytes.fill(0);
  if (token === '') throw new CommandError('no token given: pass --token, --credentials FILE, or type or pipe it in');
  return token;
}
