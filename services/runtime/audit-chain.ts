/**
 * The audit chain of platform-wide events (master key rotation and retirement), which
 * belong to no org. It cannot clash with an org: org names never start with "_".
 * Operators read it with ListAuditEvents/VerifyAuditLog(org "_platform").
 */
export const PLATFORM_CHAIN = '_platform';
