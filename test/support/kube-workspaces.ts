import type { WorkspaceHandle, WorkspaceSpec } from '../../services/job-launcher/workspaces/workspace-backend.js';
import { FILE_BINARY, FILE_PEM, PLAINTEXT } from './kube-attempts.js';

/**
 * What the Kubernetes workspace backend tests (fake and real API server) share: one run with a
 * plain variable, a secret variable and two secret files.
 */
export function workspaceSpec(overrides: Partial<WorkspaceSpec> = {}): WorkspaceSpec {
  return {
    org: 'acme',
    workspaceId: 'w_4f2c9a1b7d3e8a60',
    run: 1,
    name: 'dev',
    image: 'python:3.12-slim',
    command: '',
    env: [{ name: 'EDITOR', value: 'vim' }],
    secretEnv: [{ name: 'DB_PASSWORD', value: Buffer.from(PLAINTEXT, 'utf8'), secretName: 'db-password', version: 4 }],
    secretFiles: [
      { path: '/run/secrets/tls/key.pem', value: Buffer.from(FILE_PEM), secretName: 'tls-key', version: 2 },
      { path: '/run/secrets/blob.bin', value: FILE_BINARY, secretName: 'blob', version: 1 },
    ],
    ...overrides,
  };
}

export const workspaceHandleOf = (s: WorkspaceSpec, ref: string): WorkspaceHandle => ({ org: s.org, workspaceId: s.workspaceId, run: s.run, ref });
