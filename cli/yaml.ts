// yaml, for dynamic import (only -o yaml needs it). The bundle (scripts/build-cli.ts) gives a
// dynamically imported CommonJS package nothing but a default export (evanw/esbuild#3245), so
// CommonJS packages are imported lazily through a module like this one.
export { stringify } from 'yaml';
