#!/usr/bin/env node
// bin/ is CommonJS (bin/package.json, for vesslctl's start-up); the server is an ES module.
import('../dist/services/server/vessl-secrets.js').then(({ run }) => run(process.argv.slice(2)));
