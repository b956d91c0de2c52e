import { Command, Errors, Flags, type Interfaces } from './oclif.js';
import { CommandError, describeError, exitCodeOf } from './errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from './output.js';
import type { AdminApi } from './admin-api.js';
import type { AuditApi } from './audit-api.js';
import type { JobsApi } from './jobs-api.js';
import type { SecretsApi } from './secrets-api.js';
import type { WorkspacesApi } from './workspaces-api.js';
import { endpointOrigin, requireConnection, resolveSettings, type Connection, type Settings } from './settings.js';
import { decodeTokenClaims } from '../services/runtime/token-claims.js';

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * What every vesslctl command shares: the global flags, settings resolution, output in
 * table/json/yaml, a lazily opened API client, and errors reported as one line on stderr.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    output: Flags.option({
      char: 'o',
      options: OUTPUT_FORMATS,
      description: 'Output format: name prints the name (or id) of each resource, one a line. [default: table]',
      helpGroup: 'GLOBAL',
    })(),
    json: Flags.boolean({ description: 'Same as -o json.', helpGroup: 'GLOBAL' }),
    jsonpath: Flags.string({
      description: 'Print only what this JSONPath expression selects from the JSON output, one match a line (strings bare), e.g. \'$[?(@.state=="active")].name\'.',
      helpGroup: 'GLOBAL',
      helpValue: 'EXPR',
    }),
    org: Flags.string({
      description: 'Organization. Overrides VESSLCTL_ORG, the config file and the token\'s org.',
      helpGroup: 'GLOBAL',
      helpValue: 'ORG',
    }),
    endpoint: Flags.string({
      description: 'vessl-secrets gRPC endpoint. Overrides VESSLCTL_ENDPOINT and the config file. [default: 127.0.0.1:50051]',
      helpGroup: 'GLOBAL',
      helpValue: 'HOST:PORT',
    }),
    profile: Flags.string({
      description: 'Profile of the config file to use. Overrides VESSLCTL_PROFILE and `vesslctl config use`. [default: default]',
      helpGroup: 'GLOBAL',
      helpValue: 'NAME',
    }),
    'ca-cert': Flags.string({
      description: 'PEM file of the CA that signed the server\'s TLS certificate. Overrides VESSLCTL_CA_CERT and the config file. [default: the system\'s CAs]',
      helpGroup: 'GLOBAL',
      helpValue: 'FILE',
    }),
  };

  protected flags!: CommandFlags<T>;
  protected args!: CommandArgs<T>;
  private resolvedSettings?: Settings;
  private readonly openClients: { close(): void }[] = [];
  /** The connection of the last API opened: errors are described for its endpoint and token. */
  private connection?: Connection;

  override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      args: withoutStdin(this.ctor.args),
      strict: this.ctor.strict,
    });
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    outputFormatOf(this.flags); // a contradiction fails before anything is sent
  }

  /** Flags over env over the config file (resolved once per run). */
  protected get settings(): Settings {
    this.resolvedSettings ??= resolveSettings({ endpoint: this.flags.endpoint, org: this.flags.org, caCert: this.flags['ca-cert'], profile: this.flags.profile });
    return this.resolvedSettings;
  }

  protected get outputFormat(): OutputFormat {
    return outputFormatOf(this.flags);
  }

  /**
   * Opens an API client for the resolved endpoint, org and token (its module is imported
   * only now, to keep grpc-js out of the cold start); every client is closed when the
   * command ends, and errors are described for the last connection opened.
   */
  private async openClient<A extends { close(): void }>(load: () => Promise<(c: Connection) => A>, connection: Connection): Promise<A> {
    const api = (await load())(connection);
    this.openClients.push(api);
    this.connection = connection;
    return api;
  }

  /** Secrets and the org public key. */
  protected openApi(connection: Connection = requireConnection(this.settings)): Promise<SecretsApi> {
    return this.openClient(async () => (await import('./secrets-api.js')).openSecretsApi, connection);
  }

  /** The operator API (master keys, rewrap). */
  protected openAdminApi(connection: Connection = requireConnection(this.settings)): Promise<AdminApi> {
    return this.openClient(async () => (await import('./admin-api.js')).openAdminApi, connection);
  }

  /** The audit log. */
  protected openAuditApi(connection: Connection = requireConnection(this.settings)): Promise<AuditApi> {
    return this.openClient(async () => (await import('./audit-api.js')).openAuditApi, connection);
  }

  /** Jobs (the job-launcher answers on the same endpoint). */
  protected openJobsApi(connection: Connection = requireConnection(this.settings)): Promise<JobsApi> {
    return this.openClient(async () => (await import('./jobs-api.js')).openJobsApi, connection);
  }

  /** Workspaces (the job-launcher answers on the same endpoint). */
  protected openWorkspacesApi(connection: Connection = requireConnection(this.settings)): Promise<WorkspacesApi> {
    return this.openClient(async () => (await import('./workspaces-api.js')).openWorkspacesApi, connection);
  }

  /**
   * Prints `result` in the chosen format (`table` renders it for people) and returns it.
   * `nameOf` names one resource of it (an item of a list) for `-o name`; a command without
   * one refuses -o name, and an item it names undefined is left out.
   */
  protected async print<R>(result: R, table: (result: R) => string, nameOf?: (item: R extends ReadonlyArray<infer I> ? I : R) => string | undefined): Promise<R> {
    const format = this.outputFormat;
    if (this.flags.jsonpath !== undefined) {
      const { selectJson } = await import('./json-select.js');
      const lines = selectJson(result, this.flags.jsonpath);
      if (lines.length > 0) this.log(lines.join('\n'));
    } else if (format === 'name') {
      if (!nameOf) throw new CommandError(`-o name: \`vesslctl ${this.id?.replaceAll(':', ' ')}\` prints no named resource; use -o json`);
      const items = (Array.isArray(result) ? result : [result]) as Array<Parameters<typeof nameOf>[0]>;
      const names = items.map(nameOf).filter((name): name is string => name !== undefined);
      if (names.length > 0) this.log(names.join('\n'));
    } else if (format === 'json') this.log(JSON.stringify(result, null, 2));
    else if (format === 'yaml') process.stdout.write((await import('yaml')).stringify(result));
    else {
      const text = table(result);
      if (text !== '') this.log(text);
    }
    return result;
  }

  /** A notice for people (progress, warnings): stderr, so stdout stays parseable. */
  protected notice(message: string): void {
    this.logToStderr(message);
  }

  /** The one line that describes `err` to the user (without the "error: " prefix). */
  protected describeError(err: unknown, secretName = this.secretName()): Promise<string> {
    const claims = this.connection ? decodeTokenClaims(this.connection.token) : this.resolvedSettings?.claims;
    return describeError(err, {
      endpoint: this.connection?.endpoint ?? this.resolvedSettings?.endpoint.value,
      endpointOrigin: this.connection ? this.connection.endpointOrigin : this.resolvedSettings && endpointOrigin(this.resolvedSettings),
      caCert: this.connection ? this.connection.caCert !== undefined : this.resolvedSettings?.caCert !== undefined,
      command: this.id?.replaceAll(':', ' '),
      role: claims?.role,
      tokenOrg: claims?.org,
      org: this.connection?.org,
      secretName,
      flagNames: Object.keys({ ...(this.ctor.flags ?? {}), ...BaseCommand.baseFlags }),
    });
  }

  /** The NAME argument of `secret ...` commands, for hints such as `vesslctl secret update NAME`. */
  private secretName(): string | undefined {
    const name = (this.args as { name?: unknown } | undefined)?.name;
    return this.id?.startsWith('secret:') && typeof name === 'string' ? name : undefined;
  }

  protected override async catch(err: Error): Promise<never> {
    if (err instanceof Errors.ExitError) throw err;
    const line = await this.describeError(err);
    this.logToStderr(`error: ${line}`);
    if (process.env.VESSLCTL_DEBUG) this.logToStderr(err.stack ?? String(err));
    return this.exit(exitCodeOf(err));
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    for (const client of this.openClients.splice(0)) client.close();
    await super.finally(err);
  }
}

function outputFormatOf(flags: { json: boolean; jsonpath?: string; output?: OutputFormat }): OutputFormat {
  if (flags.json && flags.output && flags.output !== 'json') {
    throw new CommandError(`--json contradicts -o ${flags.output}: give one of them`);
  }
  if (flags.jsonpath !== undefined && flags.output && flags.output !== 'json') {
    throw new CommandError(`--jsonpath selects from the JSON output and contradicts -o ${flags.output}: leave -o out`);
  }
  // --jsonpath works on the JSON: commands that print differently for people print that.
  return flags.json || flags.jsonpath !== undefined ? 'json' : (flags.output ?? 'table');
}

/**
 * oclif fills a missing positional argument from piped stdin by default. Stdin may hold a
 * secret value (--from-stdin) or a token, which must never become a NAME or KEY (and end
 * up in an error message or a request field), so no argument ever reads it.
 */
function withoutStdin(args: Interfaces.ArgInput | undefined): Interfaces.ArgInput {
  return Object.fromEntries(Object.entries(args ?? {}).map(([name, arg]) => [name, { ...arg, ignoreStdin: true }]));
}
