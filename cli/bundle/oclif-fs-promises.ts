// node:fs/promises as oclif's util/fs.js sees it inside the vesslctl bundle (scripts/build-cli.ts
// substitutes it there): the same results, from synchronous calls. Each start reads a few small
// files that way (plugin manifests, the user's plugins, the theme), and asynchronous reads start
// libuv's thread pool and then wait for it, which a start otherwise never needs.
import { readFileSync, statSync, type Stats } from 'node:fs';

export async function readFile(path: string, encoding: BufferEncoding): Promise<string> {
  return readFileSync(path, encoding);
}

export async function stat(path: string): Promise<Stats> {
  return statSync(path);
}
