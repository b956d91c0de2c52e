import { createHash } from 'node:crypto';
import sodium from 'libsodium-wrappers';

/**
 * The keyed audit chain (docs/crypto.md, "Audit chain"). Each event's link is
 *
 *   link = BLAKE2b-256(key = chain key, msg = prev_link (32) | seq (u64 big-endian) | digest (32))
 *
 * where digest is the SHA-256 of the event's canonical form and the chain key is derived from
 * the org's audit key in key-management, which computes every link: the key never leaves it.
 * This module holds the arithmetic only, so key-management, the tests and the published
 * known-answer vector use one definition.
 */
export const LINK_BYTES = 32;
export const DIGEST_BYTES = 32;
/** What the first event of a chain links to. */
export const GENESIS_LINK = new Uint8Array(LINK_BYTES);

/** crypto_kdf contexts (8 bytes each): the subkeys of an org audit key, one per use. */
const CHAIN_KEY_CONTEXT = 'auditlnk';
const CHECKPOINT_KEY_CONTEXT = 'auditckp';

/**
 * The chain key of an org: a crypto_kdf subkey of its audit key. Value fingerprints use the
 * audit key itself (plain keyed BLAKE2b); crypto_kdf sets BLAKE2b's salt and personal
 * parameters, so no fingerprint of any value can equal a subkey.
 */
export function chainKeyOf(auditKey: Uint8Array): Uint8Array {
  return sodium.crypto_kdf_derive_from_key(32, 1, CHAIN_KEY_CONTEXT, auditKey);
}

/** The Ed25519 seed of the org's checkpoint signing key (derived the same way, subkey 2). */
export function checkpointSeedOf(auditKey: Uint8Array): Uint8Array {
  return sodium.crypto_kdf_derive_from_key(32, 2, CHECKPOINT_KEY_CONTEXT, auditKey);
}

export function auditLink(chainKey: Uint8Array, prevLink: Uint8Array, seq: number, digest: Uint8Array): Uint8Array {
  if (prevLink.length !== LINK_BYTES || digest.length !== DIGEST_BYTES) throw new RangeError('prev link and digest are 32 bytes each');
  const message = new Uint8Array(LINK_BYTES + 8 + DIGEST_BYTES);
  message.set(prevLink, 0);
  new DataView(message.buffer).setBigUint64(LINK_BYTES, BigInt(seq));
  message.set(digest, LINK_BYTES + 8);
  return sodium.crypto_generichash(LINK_BYTES, message, chainKey);
}

/** One event to link; `prevLink` is required on the first, and absent means "the link before". */
export interface LinkInput {
  seq: number;
  digest: Uint8Array;
  prevLink?: Uint8Array;
}

/** Links events in order: an input without prevLink follows the link computed just before it. */
export function linkEvents(chainKey: Uint8Array, inputs: LinkInput[]): Uint8Array[] {
  const links: Uint8Array[] = [];
  let prev: Uint8Array | undefined;
  for (const input of inputs) {
    const from = input.prevLink ?? prev;
    if (!from) throw new RangeError('the first event to link needs its prev link');
    prev = auditLink(chainKey, from, input.seq, input.digest);
    links.push(prev);
  }
  return links;
}

/** Computes links for an org's events; in production, key-management over gRPC. */
export type AuditLinker = (org: string, inputs: LinkInput[]) => Promise<Uint8Array[]>;

/** The text an audit checkpoint's Ed25519 signature covers (docs/crypto.md). */
export function checkpointMessage(c: { org: string; seq: number; link: Uint8Array; keyedFrom: number; time: number }): Uint8Array {
  const text = `vessl audit checkpoint v1\norg ${c.org}\nseq ${c.seq}\nlink ${Buffer.from(c.link).toString('hex')}\nkeyed_from ${c.keyedFrom}\ntime ${c.time}\n`;
  return new TextEncoder().encode(text);
}

/** SHA-256, the digest an event is linked by. */
export const sha256 = (text: string): Uint8Array => new Uint8Array(createHash('sha256').update(text).digest());

/**
 * Links computed in this process under a given chain key: for tests and the published
 * known-answer vector. Services never hold a chain key; they ask key-management.
 */
export function localLinker(chainKeyFor: (org: string) => Uint8Array): AuditLinker {
  return async (org, inputs) => linkEvents(chainKeyFor(org), inputs);
}
