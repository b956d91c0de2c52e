#!/usr/bin/env node
import { execute, settings } from '@oclif/core';

// Always run the compiled dist/: under NODE_ENV=test|development oclif would otherwise try to
// map dist/cli/commands.js back to TypeScript sources (and hit the cli/commands/ folder).
settings.enableAutoTranspile = false;

await execute({ dir: import.meta.url });
