import type { AttemptHandle, AttemptSpec } from '../../services/job-launcher/backend.js';

/**
 * What the Kubernetes backend tests (against the fake and against the real apiserver) share:
 * one attempt with a plain variable and two secrets, and readers of its log.
 */

export const PLAINTEXT = 'pa55-Wörd-hunter2-8f3a';

export function spec(overrides: Partial<AttemptSpec> = {}): AttemptSpec {
  return {
    org: 'acme',
    jobId: 'j_AbC123xyZ',
    attempt: 1,
    jobName: 'train',
    image: 'python:3.12-slim',
    command: 'python train.py --epochs 3',
    env: [{ name: 'EPOCHS', value: '3' }],
    secretEnv: [
      { name: 'DB_PASSWORD', value: Buffer.from(PLAINTEXT, 'utf8'), secretName: 'db-password', version: 4 },
      { name: 'API_TOKEN', value: Buffer.from('tok-0123456789', 'utf8'), secretName: 'api-token', version: 1 },
    ],
    ...overrides,
  };
}

/** A multi-line PEM key and a binary value with NUL bytes: what secret files are for. */
export const FILE_PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFileSecretPemBodyLine0000000000\n-----END PRIVATE KEY-----\n';
export const FILE_BINARY = Buffer.from([0x00, 0xff, 0x10, 0x00, 0x80, 0x0a, 0x62, 0x69, 0x6e, 0x00]);

/** The attempt of spec() with two secret files as well. */
export function specWithFiles(overrides: Partial<AttemptSpec> = {}): AttemptSpec {
  return spec({
    secretFiles: [
      { path: '/run/secrets/tls/key.pem', value: Buffer.from(FILE_PEM), secretName: 'tls-key', version: 2 },
      { path: '/run/secrets/blob.bin', value: FILE_BINARY, secretName: 'blob', version: 1 },
    ],
    ...overrides,
  });
}

/** The secret volume specWithFiles() should get, as the launcher sends it (named after the attempt's Secret). */
export const filesVolume = (secretName: string) => ({
  name: 'secret-files',
  secret: { secretName, defaultMode: 0o400, items: [{ key: 'file-0', path: 'tls/key.pem' }, { key: 'file-1', path: 'blob.bin' }] },
});

export const handleOf = (s: AttemptSpec, ref: string): AttemptHandle => ({ org: s.org, jobId: s.jobId, attempt: s.attempt, ref });

/** The error a promise must reject with. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

export async function collectBytes(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of it) out.push(chunk);
  return Buffer.concat(out);
}

export async function collect(it: AsyncIterable<Buffer>): Promise<string> {
  return (await collectBytes(it)).toString('utf8');
}
