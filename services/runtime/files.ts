import { randomUUID } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';

/**
 * Creates `file` (0600) with `content` only if it does not exist: written aside, then
 * linked into place, so no reader ever sees it half-written. Throws EEXIST when it exists.
 */
export async function createFileExclusive(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  try {
    await link(tmp, file);
  } finally {
    await unlink(tmp);
  }
}
