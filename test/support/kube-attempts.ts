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
