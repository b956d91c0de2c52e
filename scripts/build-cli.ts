// Bundles vesslctl into dist/vesslctl/ with esbuild. Part of `make build` (and `npm run build`):
//   node --import tsx scripts/build-cli.ts
// Cold start is dominated by loading modules: a bundle loads a few files instead of ~250
// (@oclif/core, semver, minimatch, ...). Entry points are what oclif imports by path
// (package.json "oclif": the command map and the hook); code splitting keeps one copy of
// @oclif/core between them and leaves grpc-js, libsodium and yaml in chunks that only the
// commands needing them import.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = path.join(ROOT, 'dist', 'vesslctl');

rmSync(OUT_DIR, { recursive: true, force: true });
const { metafile } = await build({
  absWorkingDir: ROOT,
  entryPoints: {
    main: 'cli/main.ts',
    commands: 'cli/commands.ts',
    'command-not-found': 'cli/hooks/command-not-found.ts',
  },
  outdir: OUT_DIR,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Loaded only on paths vesslctl never takes (oclif's TypeScript support, grpc-js channelz):
  // left to node_modules rather than parsed at every start.
  external: ['typescript', 'ts-node', '@grpc/proto-loader'],
  // The CommonJS packages inside call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});
// A chunk that is a CommonJS module's own entry exports nothing but `default`
// (evanw/esbuild#3245): `(await import('yaml')).stringify` would be undefined at run time.
const cjsOnlyChunks = Object.keys(metafile.outputs).filter((file) => /^export default require_\w+\(\);$/m.test(readFileSync(path.join(ROOT, file), 'utf8')));
if (cjsOnlyChunks.length > 0) {
  throw new Error(`dynamic import() of a CommonJS package in cli/ (${cjsOnlyChunks.join(', ')}): import it through an ESM module instead, as cli/yaml.ts does`);
}
