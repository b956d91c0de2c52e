import { BaseCommand } from '../../base-command.js';
import { CommandError, NO_TOKEN_MESSAGE } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { formatFields, formatTime } from '../../output.js';
import type { Setting, SettingSource } from '../../settings.js';
import { maskToken } from '../../../services/runtime/token-claims.js';

export interface AuthStatusResult {
  profile: Setting;
  endpoint: Setting;
  /** null when no org is set anywhere. */
  org: Setting | null;
  /** The token itself is never printed, only its first characters. */
  token: { masked: string; source: SettingSource };
  /** '' / null / false when the token is not a JWT or has no such claim. */
  subject: string;
  role: string;
  expiresAt: string | null;
  expired: boolean;
  configFile: string;
}

export default class AuthStatus extends BaseCommand<typeof AuthStatus> {
  static override summary = 'Show the endpoint, org and identity that commands will use, and where each comes from.';
  static override description =
    'Subject, role and expiry are read from the token without verifying it and without contacting the server; the server checks the token on every call.';

  static override examples = ['<%= config.bin %> auth status', '<%= config.bin %> auth status -o json'];

  async run(): Promise<AuthStatusResult> {
    const { endpoint, org, token, claims, configFile, profile } = this.settings;
    if (!token) throw new CommandError(NO_TOKEN_MESSAGE, { exitCode: EXIT.AUTH });
    const expiresAt = claims?.exp === undefined ? undefined : new Date(claims.exp * 1000);
    const status: AuthStatusResult = {
      profile,
      endpoint,
      org: org ?? null,
      token: { masked: maskToken(token.value), source: token.source },
      subject: claims?.sub ?? '',
      role: claims?.role ?? '',
      expiresAt: expiresAt?.toISOString() ?? null,
      expired: expiresAt !== undefined && expiresAt.getTime() <= Date.now(),
      configFile,
    };
    await this.print(status, (s) =>
      formatFields([
        ['profile', `${s.profile.value} (${s.profile.source})`],
        ['endpoint', `${s.endpoint.value} (${s.endpoint.source})`],
        ['org', s.org ? `${s.org.value} (${s.org.source})` : 'none: pass --org or set VESSLCTL_ORG'],
        ['subject', s.subject],
        ['role', s.role],
        ['expires', s.expiresAt && `${formatTime(s.expiresAt)}${s.expired ? ' (EXPIRED: run `vesslctl auth login` again)' : ''}`],
        ['token', `${s.token.masked} (${s.token.source})${claims ? '' : ', not a JWT: no claims to show'}`],
        ['config', s.configFile],
      ]),
    );
    // Scripts can ask `vesslctl auth status` whether the next call would be let in.
    if (status.expired) this.exit(EXIT.AUTH);
    return status;
  }
}
