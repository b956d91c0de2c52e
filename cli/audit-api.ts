// Loaded lazily (see BaseCommand.openAuditApi): it pulls in grpc-js and the generated code.
import { SecretServiceService, VerifyAuditLogResponse_Finding, type AuditEvent } from '../services/gen/vessl/secrets/v1/secrets.js';
import { createServiceClient } from '../services/runtime/grpc-client.js';
import { clientOptions } from './client-options.js';
import { timeJson } from './json-values.js';
import type { Connection } from './settings.js';

/** An audit event as `-o json` prints it (cli/json-values.ts: every field, proto camelCase). */
export interface AuditEventJson {
  org: string;
  seq: number;
  time: string | null;
  actor: string;
  action: string;
  secretName: string;
  secretUid: string;
  secretVersion: number;
  requestId: string;
  details: Record<string, string>;
  hash: string;
  prevHash: string;
  /** Whether hash is a keyed link (false for events from before links were keyed). */
  keyed: boolean;
}

const auditEventJson = (e: AuditEvent): AuditEventJson => ({
  org: e.org,
  seq: e.seq,
  time: timeJson(e.time),
  actor: e.actor,
  action: e.action,
  secretName: e.secretName,
  secretUid: e.secretUid,
  secretVersion: e.secretVersion,
  requestId: e.requestId,
  details: { ...e.details },
  hash: e.hash,
  prevHash: e.prevHash,
  keyed: e.keyed,
});

/** What `audit verify -o json` prints: every field, also when false or 0. */
export interface AuditVerificationJson {
  intact: boolean;
  events: number;
  /** 0 when intact. */
  firstBadSeq: number;
  /** '' when intact. */
  problem: string;
  /** The kind of break: intact, altered, tail_missing, gap or mislinked. */
  finding: string;
  /** With tail_missing: the last event present (the events after it are missing); 0 otherwise. */
  missingAfterSeq: number;
  /** The signed checkpoint (kept by key-management) the log was checked against; 0 when none yet. */
  checkpointSeq: number;
  /** When that checkpoint was signed; null when none yet. */
  checkpointTime: string | null;
}

export interface AuditPage {
  events: AuditEventJson[];
  nextPageToken: string;
}

export interface AuditListQuery {
  pageSize: number;
  pageToken: string;
  action?: string;
  secretName?: string;
  actor?: string;
  /** Events at or after / before these times. */
  startTime?: Date;
  endTime?: Date;
  /** Newest first (for --tail). */
  newestFirst?: boolean;
  /** Only events after this seq (for --follow). */
  afterSeq?: number;
}

/** The audit log calls vesslctl makes, for one endpoint, org and token, in the shapes it prints. */
export interface AuditApi {
  readonly connection: Connection;
  listAuditEvents(query: AuditListQuery): Promise<AuditPage>;
  verifyAuditLog(): Promise<AuditVerificationJson>;
  close(): void;
}

/** Verification walks the whole chain: more than the default 10 s on a long log. */
const VERIFY_CALL = { timeoutMs: 300_000 };

export function openAuditApi(connection: Connection): AuditApi {
  const { endpoint, org } = connection;
  const secrets = createServiceClient(SecretServiceService, endpoint, clientOptions(connection));

  return {
    connection,
    async listAuditEvents({ pageSize, pageToken, action, secretName, actor, startTime, endTime, newestFirst, afterSeq }) {
      const response = await secrets.listAuditEvents({
        org,
        pageSize,
        pageToken,
        action: action ?? '',
        secretName: secretName ?? '',
        actor: actor ?? '',
        startTime,
        endTime,
        newestFirst: newestFirst ?? false,
        afterSeq: afterSeq ?? 0,
      });
      return { events: response.events.map(auditEventJson), nextPageToken: response.nextPageToken };
    },
    async verifyAuditLog() {
      const r = await secrets.verifyAuditLog({ org }, VERIFY_CALL);
      // FINDING_TAIL_MISSING -> tail_missing (JSON enums are lower-case, DESIGN §6).
      const finding = VerifyAuditLogResponse_Finding[r.finding].replace(/^FINDING_/, '').toLowerCase();
      return {
        intact: r.intact,
        events: r.events,
        firstBadSeq: r.firstBadSeq,
        problem: r.problem,
        finding,
        missingAfterSeq: r.missingAfterSeq,
        checkpointSeq: r.checkpointSeq,
        checkpointTime: timeJson(r.checkpointTime),
      };
    },
    close() {
      secrets.close();
    },
  };
}
