import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../services/runtime/repo-files.js';

/** A descriptor number a server's parent might leave open across exec (a supervisor's socket, a shell's pipe). */
export const STRAY_FD = 47;

/**
 * Runs `script` (under test/support) as a server whose own parent left STRAY_FD open across
 * exec, passing the number as its argument; returns its status and output.
 */
export async function runWithStrayFd(script: string): Promise<{ code: number | null; out: string; err: string }> {
  const stdio: ('ignore' | 'pipe')[] = Array.from({ length: STRAY_FD + 1 }, () => 'ignore');
  stdio[1] = 'pipe';
  stdio[2] = 'pipe';
  stdio[STRAY_FD] = 'pipe';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(packageRoot(), 'test/support', script), String(STRAY_FD)], { stdio });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out, err };
}
