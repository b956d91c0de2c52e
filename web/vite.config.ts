// Builds the console into web/dist, which the server's web console serves (make build).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  // No source maps in the served bundle, no inline assets: the CSP allows scripts from 'self' only.
  // libsodium (WebAssembly inlined) is one ~600 kB chunk, loaded only when a value is sealed.
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, assetsInlineLimit: 0, chunkSizeWarningLimit: 800 },
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  logLevel: 'warn',
});
