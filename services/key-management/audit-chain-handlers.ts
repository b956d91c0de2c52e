import type { AuditCheckpoint, KeyManagementServiceService } from '../gen/vessl/kms/v1/kms.js';
import { PLATFORM_CHAIN } from '../runtime/audit-chain.js';
import { DIGEST_BYTES, LINK_BYTES } from '../runtime/audit-link.js';
import { requireService } from '../runtime/auth.js';
import type { ServiceHandlers } from '../runtime/grpc-server.js';
import { Violations } from '../runtime/validation.js';
import type { AuditChainKeys, SignedCheckpoint } from './audit-chain.js';

type Handlers = Pick<ServiceHandlers<typeof KeyManagementServiceService>, 'linkAuditEvents' | 'recordAuditCheckpoint' | 'getAuditCheckpoint'>;

/** Events per LinkAuditEvents or RecordAuditCheckpoint call. */
export const MAX_AUDIT_EVENTS_PER_CALL = 1000;

/** An org's chain, or the platform chain. */
const checkChain = (v: Violations, org: string) => (org === PLATFORM_CHAIN ? v : v.org(org));
const isSeq = (n: number) => Number.isSafeInteger(n) && n >= 1;

function checkEvents(v: Violations, events: { seq: number; digest: Buffer }[], field: string): void {
  v.check(events.length > 0, field, 'name at least one event').check(events.length <= MAX_AUDIT_EVENTS_PER_CALL, field, `at most ${MAX_AUDIT_EVENTS_PER_CALL} events per call`);
  events.forEach((e, i) => {
    v.check(isSeq(e.seq), `${field}[${i}].seq`, 'must be a position in the chain (1 or more)').check(e.digest.length === DIGEST_BYTES, `${field}[${i}].digest`, `must be ${DIGEST_BYTES} bytes`);
  });
}

export function toCheckpointMessage(c: SignedCheckpoint | undefined): AuditCheckpoint {
  if (!c) return { org: '', seq: 0, link: Buffer.alloc(0), keyedFrom: 0, time: undefined, signature: Buffer.alloc(0), publicKey: Buffer.alloc(0) };
  return {
    org: c.org,
    seq: c.seq,
    link: Buffer.from(c.link),
    keyedFrom: c.keyedFrom,
    time: new Date(c.time),
    signature: Buffer.from(c.signature),
    publicKey: Buffer.from(c.publicKey),
  };
}

/** The audit chain's links and checkpoints: the secret store only (it owns the chain). */
export function auditChainHandlers(chain: AuditChainKeys): Handlers {
  return {
    async linkAuditEvents(req, ctx) {
      requireService(ctx.principal, ['secret-store'], 'link audit events');
      const v = checkChain(new Violations(), req.org);
      checkEvents(v, req.events, 'events');
      req.events.forEach((e, i) => {
        const required = i === 0;
        v.check(e.prevLink.length === LINK_BYTES || (!required && e.prevLink.length === 0), `events[${i}].prev_link`, required ? `must be ${LINK_BYTES} bytes` : `must be ${LINK_BYTES} bytes or empty`);
      });
      v.throwIfAny();
      const links = await chain.link(
        req.org,
        req.events.map((e) => ({ seq: e.seq, digest: e.digest, prevLink: e.prevLink.length > 0 ? e.prevLink : undefined })),
      );
      return { links: links.map((l) => Buffer.from(l)) };
    },
    async recordAuditCheckpoint(req, ctx) {
      requireService(ctx.principal, ['secret-store'], 'record audit checkpoints');
      const v = checkChain(new Violations(), req.org)
        .check(Number.isSafeInteger(req.fromSeq) && req.fromSeq >= 0, 'from_seq', 'must not be negative')
        .check(req.fromLink.length === LINK_BYTES, 'from_link', `must be ${LINK_BYTES} bytes`)
        .check(isSeq(req.keyedFrom), 'keyed_from', 'must be a position in the chain (1 or more)')
        .check(req.link.length === LINK_BYTES, 'link', `must be ${LINK_BYTES} bytes`);
      checkEvents(v, req.events, 'events');
      req.events.forEach((e, i) => v.check(e.seq === req.fromSeq + 1 + i, `events[${i}].seq`, `must be ${req.fromSeq + 1 + i}: the events follow from_seq one by one`));
      v.throwIfAny();
      return toCheckpointMessage(await chain.record({ ...req, events: req.events }));
    },
    async getAuditCheckpoint(req, ctx) {
      requireService(ctx.principal, ['secret-store'], 'read audit checkpoints');
      checkChain(new Violations(), req.org).throwIfAny();
      return toCheckpointMessage(await chain.checkpoint(req.org));
    },
  };
}
