import {
  VerifyAuditLogResponse_Finding,
  type AuditEvent as AuditEventMessage,
  type ListAuditEventsRequest,
  type RecordAuditEventRequest,
  type SecretServiceService,
  type VerifyAuditLogResponse,
} from '../gen/vessl/secrets/v1/secrets.js';
import { requireOrgRole, requireService, type Principal } from '../runtime/auth.js';
import { permissionDenied } from '../runtime/errors.js';
import { REQUEST_ID_PATTERN, type ServiceHandlers } from '../runtime/grpc-server.js';
import { decodePageToken, encodePageToken } from '../runtime/page-token.js';
import { Violations } from '../runtime/validation.js';
import { AUDIT_ACTIONS, JOB_LAUNCHER_ACTIONS, KEY_MANAGEMENT_ACTIONS, PLATFORM_CHAIN, type AuditAction, type JobLauncherAction, type KeyManagementAction, type StoredAuditEvent } from './audit.js';
import type { AuditLog } from './audit-log.js';
import type { AuditFilter } from './audit-store.js';
import type { AuditFinding, AuditVerification } from './audit-verify.js';
import { checkName } from './rules.js';

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const MAX_ACTOR_LENGTH = 256;
const MAX_DETAILS = 20;
const MAX_DETAIL_VALUE_LENGTH = 256;
const ACTION_PATTERN = /^[a-z_]+\.[a-z_]+$/;
const DETAIL_KEY_PATTERN = /^[a-zA-Z_]{1,64}$/;

export type AuditHandlers = Pick<ServiceHandlers<typeof SecretServiceService>, 'listAuditEvents' | 'verifyAuditLog' | 'recordAuditEvent'>;

/**
 * Reading the audit log (DESIGN §3): the org's admins, and operators, who are platform-wide
 * (their token's org claim need not be the org they audit).
 */
function requireAuditReader(principal: Principal, org: string, action: string): void {
  if (principal.role === 'operator') return;
  requireOrgRole(principal, org, ['admin'], action);
}

/** Explicit mapper: absent fields become proto defaults, detail values become strings. */
export function toAuditEventMessage(e: StoredAuditEvent, keyedFrom: number | undefined): AuditEventMessage {
  return {
    org: e.org,
    seq: e.seq,
    time: new Date(e.time),
    actor: e.actor,
    action: e.action,
    secretName: e.secretName ?? '',
    secretUid: e.secretUid ?? '',
    secretVersion: e.secretVersion ?? 0,
    requestId: e.requestId,
    details: Object.fromEntries(Object.entries(e.details).map(([k, v]) => [k, String(v)])),
    hash: e.hash,
    prevHash: e.prevHash,
    keyed: keyedFrom !== undefined && e.seq >= keyedFrom,
  };
}

const FINDINGS: Record<AuditFinding, VerifyAuditLogResponse_Finding> = {
  intact: VerifyAuditLogResponse_Finding.FINDING_INTACT,
  altered: VerifyAuditLogResponse_Finding.FINDING_ALTERED,
  tail_missing: VerifyAuditLogResponse_Finding.FINDING_TAIL_MISSING,
  gap: VerifyAuditLogResponse_Finding.FINDING_GAP,
  mislinked: VerifyAuditLogResponse_Finding.FINDING_MISLINKED,
};

export function toVerifyResponse(v: AuditVerification): VerifyAuditLogResponse {
  return {
    intact: v.intact,
    events: v.events,
    firstBadSeq: v.firstBadSeq,
    problem: v.problem,
    finding: FINDINGS[v.finding],
    missingAfterSeq: v.missingAfterSeq,
    checkpointSeq: v.checkpointSeq,
    checkpointTime: v.checkpointTime === undefined ? undefined : new Date(v.checkpointTime),
  };
}

/** An org's chain, or (for operators, master key events) the platform chain. */
function checkChain(v: Violations, org: string): Violations {
  return org === PLATFORM_CHAIN ? v : v.org(org);
}

const isAuditAction = (action: string): action is AuditAction => (AUDIT_ACTIONS as readonly string[]).includes(action);
const isKeyManagementAction = (action: string): action is KeyManagementAction => (KEY_MANAGEMENT_ACTIONS as readonly string[]).includes(action);
const isJobLauncherAction = (action: string): action is JobLauncherAction => (JOB_LAUNCHER_ACTIONS as readonly string[]).includes(action);

/** Denials in key-management and the job launcher become chain events too (DESIGN §3). */
const DENIAL = 'call.denied';

function checkListRequest(req: ListAuditEventsRequest): AuditFilter {
  const v = checkChain(new Violations(), req.org).check(req.pageSize >= 0, 'page_size', 'must not be negative');
  v.check(req.afterSeq >= 0, 'after_seq', 'must not be negative');
  if (req.startTime && req.endTime) v.check(req.startTime < req.endTime, 'end_time', 'must be after start_time');
  v.check(req.action === '' || isAuditAction(req.action), 'action', `must be one of: ${AUDIT_ACTIONS.join(', ')}`);
  if (req.secretName !== '') checkName(v, req.secretName, 'secret_name');
  v.check(req.actor.length <= MAX_ACTOR_LENGTH, 'actor', `is longer than ${MAX_ACTOR_LENGTH} characters`);
  v.throwIfAny();
  return {
    action: req.action === '' ? undefined : (req.action as AuditAction),
    secretName: req.secretName || undefined,
    actor: req.actor || undefined,
    startTime: req.startTime?.getTime(),
    endTime: req.endTime?.getTime(),
  };
}

function checkRecordRequest(req: RecordAuditEventRequest): void {
  const v = checkChain(new Violations(), req.org);
  if (req.action !== DENIAL) v.check((req.org === PLATFORM_CHAIN) === req.action.startsWith('master_key.'), 'org', `master key events go to the "${PLATFORM_CHAIN}" chain, and only they do`);
  if (req.actor === '') v.add('actor', 'is required');
  else v.check(req.actor.length <= MAX_ACTOR_LENGTH, 'actor', `is longer than ${MAX_ACTOR_LENGTH} characters`);
  if (!ACTION_PATTERN.test(req.action)) v.add('action', 'must look like resource.verb (^[a-z_]+\\.[a-z_]+$)');
  else v.check(isKeyManagementAction(req.action) || isJobLauncherAction(req.action) || req.action === DENIAL, 'action', `must be one of: ${[...KEY_MANAGEMENT_ACTIONS, ...JOB_LAUNCHER_ACTIONS, DENIAL].join(', ')}`);
  v.check(req.requestId === '' || REQUEST_ID_PATTERN.test(req.requestId), 'request_id', 'must be 8 to 64 letters, digits or dashes (or empty: this call\'s id)');
  const entries = Object.entries(req.details);
  v.check(entries.length <= MAX_DETAILS, 'details', `at most ${MAX_DETAILS} entries`);
  for (const [key, value] of entries) {
    if (!DETAIL_KEY_PATTERN.test(key)) v.add(`details[${JSON.stringify(key)}]`, 'key must match ^[a-zA-Z_]{1,64}$');
    else v.check(value.length <= MAX_DETAIL_VALUE_LENGTH, `details[${JSON.stringify(key)}]`, `is longer than ${MAX_DETAIL_VALUE_LENGTH} characters`);
  }
  v.throwIfAny();
}

/** A ListAuditEvents page token belongs to one listing: the org, the filters and the order. */
const listingOf = (req: ListAuditEventsRequest) => ({
  org: req.org,
  action: req.action,
  secretName: req.secretName,
  actor: req.actor,
  startTime: req.startTime?.getTime() ?? 0,
  endTime: req.endTime?.getTime() ?? 0,
  newestFirst: req.newestFirst,
  afterSeq: req.afterSeq,
});

/** The seq a page token continues from (after it, or below it newest first); none for the first page. */
function positionOf(req: ListAuditEventsRequest): number | undefined {
  if (req.pageToken === '') return undefined;
  const position = decodePageToken<{ seq: number }>(
    req.pageToken,
    listingOf(req),
    (p) => Number.isSafeInteger(p.seq) && (p.seq as number) >= 0,
    'ListAuditEvents',
  );
  return position.seq;
}

/** ListAuditEvents, VerifyAuditLog and RecordAuditEvent, spread into secret-store's handlers. */
export function auditHandlers(audit: AuditLog): AuditHandlers {
  return {
    async listAuditEvents(req, ctx) {
      requireAuditReader(ctx.principal, req.org, 'list audit events');
      const filter = checkListRequest(req);
      const position = positionOf(req);
      const limit = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
      const range = req.newestFirst
        ? { afterSeq: req.afterSeq, beforeSeq: position, newestFirst: true }
        : { afterSeq: Math.max(req.afterSeq, position ?? 0) };
      const page = await audit.list({ org: req.org, ...filter, ...range, limit });
      return {
        events: page.events.map((e) => toAuditEventMessage(e, page.keyedFrom)),
        nextPageToken: page.next === undefined ? '' : encodePageToken(listingOf(req), { seq: page.next }),
      };
    },
    async verifyAuditLog(req, ctx) {
      requireAuditReader(ctx.principal, req.org, 'verify the audit log');
      checkChain(new Violations(), req.org).throwIfAny();
      return toVerifyResponse(await audit.verify(req.org));
    },
    async recordAuditEvent(req, ctx) {
      requireService(ctx.principal, ['key-management', 'job-launcher'], 'record audit events');
      // Each service records its own events (and its denials), never the other's.
      const launcher = ctx.principal.subject === 'svc:job-launcher';
      if (launcher && req.action !== DENIAL && !isJobLauncherAction(req.action)) {
        throw permissionDenied('only key-management may record key events; the job launcher records call.denied and job.launch_failed');
      }
      if (!launcher && isJobLauncherAction(req.action)) throw permissionDenied('only the job launcher may record job.launch_failed');
      checkRecordRequest(req);
      const stored = await audit.record({
        org: req.org,
        actor: req.actor,
        action: req.action as KeyManagementAction | JobLauncherAction | 'call.denied',
        requestId: req.requestId || ctx.requestId,
        details: req.details,
      });
      return toAuditEventMessage(stored, stored.seq);
    },
  };
}
