import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Where Debian's softhsm2 puts the PKCS#11 module (scripts/ensure-softhsm.sh installs it). */
export const SOFTHSM_MODULE = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'].find(existsSync);

export interface SoftHsmToken {
  modulePath: string;
  label: string;
  pin: string;
  /** The directory holding the token's files (what an HSM keeps to itself). */
  tokenDir: string;
  /** Its SOFTHSM2_CONF, for a server process started on it. */
  conf: string;
  remove(): void;
}

/**
 * A fresh SoftHSM2 token for this test run, in a temp dir of its own: SOFTHSM2_CONF points
 * this process (and softhsm2-util) at it, so no system token is touched. SoftHSM reads the
 * variable when the module is initialised.
 */
export function createSoftHsmToken(label = 'vessl-test', pin = '1234'): SoftHsmToken {
  if (!SOFTHSM_MODULE) throw new Error('SoftHSM2 is not installed: run scripts/ensure-softhsm.sh');
  const dir = mkdtempSync(path.join(tmpdir(), 'vessl-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `so-${pin}`], { env: process.env, stdio: 'pipe' });
  return { modulePath: SOFTHSM_MODULE, label, pin, tokenDir, conf, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
