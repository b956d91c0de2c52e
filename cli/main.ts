// vesslctl's entry point (bin/vesslctl.js imports its bundle, dist/vesslctl/main.js: see
// scripts/build-cli.ts).
import { execute, settings } from '@oclif/core';

// Never map the bundle back to TypeScript sources (oclif would under NODE_ENV=test|development).
settings.enableAutoTranspile = false;

await execute({ dir: import.meta.url });
