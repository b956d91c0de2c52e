import type { SecretServiceService } from '../gen/vessl/secrets/v1/secrets.js';
import { PLATFORM_CHAIN } from './audit-chain.js';
import { ORG_PATTERN, type Principal } from './auth.js';
import { ApiError } from './errors.js';
import type { ServiceClient } from './grpc-client.js';
import type { CallContext, ServiceHooks } from './grpc-server.js';
import type { Logger } from './logger.js';

/** One call.denied event for a chain (DESIGN §3). Never holds a request body. */
export interface DenialEvent {
  org: string;
  time: number;
  actor: string;
  requestId: string;
  details: Record<string, string>;
}

/** Where denial events go: secret-store's own chain, or RecordAuditEvent from another service. */
export type DenialSink = (events: DenialEvent[]) => Promise<void>;

const MINUTE_MS = 60_000;
/** Distinct (chain, caller, minute) counts kept before they are written early. */
const MAX_BUCKETS = 10_000;
/** Methods and orgs named in one aggregate event (details values stay short). */
const MAX_LISTED = 10;
const MAX_DETAIL = 256;

interface Bucket {
  org: string;
  actor: string;
  role: string;
  minute: number;
  count: number;
  firstRequestId: string;
  methods: Set<string>;
  orgs: Set<string>;
}

/** The org a request names, if it has an `org` field. */
function orgNamed(request: unknown): string | undefined {
  const message = request as { org?: unknown; kind?: { value?: { org?: unknown } } } | undefined;
  // A stream's first message may name it inside a oneof (ExecWorkspace's start).
  const org = message?.org ?? message?.kind?.value?.org;
  return typeof org === 'string' ? org : undefined;
}

/** A caller's own chain: its org, or the platform chain for services (and tokens without an org). */
const ownChain = (p: Principal) => (p.role !== 'service' && ORG_PATTERN.test(p.org) ? p.org : PLATFORM_CHAIN);

const listed = (values: Set<string>) => {
  const shown = [...values].slice(0, MAX_LISTED).join(',');
  const more = values.size > MAX_LISTED ? `,+${values.size - MAX_LISTED} more` : '';
  return (shown + more).slice(0, MAX_DETAIL);
};

/**
 * Every denied call becomes a chain event, and no outsider can grow an org's log: a denial
 * by a principal of the org the request names goes into that org's chain, one event per
 * call (its own members' doing); any other denial (another org, an org that does not exist,
 * no org, a service) goes into the caller's own chain (or `_platform`), aggregated per caller
 * and minute into one event: "37 denied calls by X". Aggregates are written when their minute
 * is over (a timer), when too many are held, and on close; memory is bounded either way.
 */
export class DenialAudit {
  private readonly buckets = new Map<string, Bucket>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly service: string,
    private readonly sink: DenialSink,
    private readonly log: Pick<Logger, 'warn' | 'error'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The hook for implementService: PERMISSION_DENIED answers are audited, others ignored. */
  readonly hooks: ServiceHooks = {
    onError: async (err, request, ctx) => {
      if (err instanceof ApiError && err.reason === 'PERMISSION_DENIED') await this.denied(request, ctx);
    },
  };

  async denied(request: unknown, ctx: Pick<CallContext, 'principal' | 'requestId' | 'method' | 'log'>): Promise<void> {
    const { principal: p } = ctx;
    const named = orgNamed(request);
    // The named org is the caller's input: only a bounded prefix goes into the log line.
    ctx.log.warn({ audit: 'denied', subject: p.subject, role: p.role, org: p.org, named: named?.slice(0, 64) }, 'call denied');
    const time = this.now();
    if (named !== undefined && p.role !== 'service' && named === p.org) {
      await this.sink([{ org: named, time, actor: p.subject, requestId: ctx.requestId, details: { method: ctx.method, role: p.role, service: this.service } }]);
      return;
    }
    this.count(p, named, ctx, time);
  }

  /** Writes the aggregates of minutes that are over (all of them with `everything`). */
  async flush(everything = false): Promise<void> {
    const current = Math.floor(this.now() / MINUTE_MS);
    const due = [...this.buckets.entries()].filter(([, b]) => everything || b.minute < current);
    if (due.length === 0) return;
    for (const [key] of due) this.buckets.delete(key);
    const events = due.map(([, b]) => this.aggregateEvent(b));
    await this.sink(events).catch((err: unknown) => {
      this.log.error({ err: err instanceof Error ? err.message : String(err), events: events.length }, 'denied calls could not be audited (they are in this log)');
    });
  }

  /** Writes everything held and stops the timer (shutdown). */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush(true);
  }

  private count(p: Principal, named: string | undefined, ctx: Pick<CallContext, 'requestId' | 'method'>, time: number): void {
    const minute = Math.floor(time / MINUTE_MS);
    const org = ownChain(p);
    const key = JSON.stringify([org, p.subject, minute]);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { org, actor: p.subject, role: p.role, minute, count: 0, firstRequestId: ctx.requestId, methods: new Set(), orgs: new Set() };
      this.buckets.set(key, bucket);
    }
    bucket.count++;
    bucket.methods.add(ctx.method);
    // Only well-formed names are repeated into the log; anything else is counted as such.
    bucket.orgs.add(named === undefined ? '(none)' : ORG_PATTERN.test(named) || named === PLATFORM_CHAIN ? named : '(invalid)');
    if (this.buckets.size >= MAX_BUCKETS) void this.flush(true);
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const untilNextMinute = MINUTE_MS - (this.now() % MINUTE_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().then(() => {
        if (this.buckets.size > 0) this.schedule();
      });
    }, untilNextMinute).unref();
  }

  private aggregateEvent(b: Bucket): DenialEvent {
    const calls = b.count === 1 ? '1 denied call' : `${b.count} denied calls`;
    return {
      org: b.org,
      // Stamped at the end of its minute, or now when written early (shutdown, too many held).
      time: Math.min(this.now(), (b.minute + 1) * MINUTE_MS - 1),
      actor: b.actor,
      requestId: b.firstRequestId,
      details: {
        summary: `${calls} by ${b.actor}`.slice(0, MAX_DETAIL),
        count: String(b.count),
        minute: new Date(b.minute * MINUTE_MS).toISOString(),
        methods: listed(b.methods),
        orgs: listed(b.orgs),
        role: b.role,
        service: this.service,
      },
    };
  }
}

/** A sink for services without an audit log of their own: RecordAuditEvent on the secret store. */
export function recordThroughSecretStore(secretStore: Pick<ServiceClient<typeof SecretServiceService>, 'recordAuditEvent'>): DenialSink {
  return async (events) => {
    for (const e of events) {
      await secretStore.recordAuditEvent({ org: e.org, actor: e.actor, action: 'call.denied', requestId: e.requestId, details: e.details }, { requestId: e.requestId });
    }
  };
}
