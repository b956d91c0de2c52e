#!/usr/bin/env node
// vesslctl runs from its bundle (`make build`), compiled with V8's code cache: see
// cli/bundle/loader.ts. bin/ is CommonJS (bin/package.json): an ES module entry point would
// start Node's ES module loader, ~3 ms of every vesslctl start.
const { loadBundle, PACKAGE_ROOT } = require('../dist/vesslctl/loader.cjs');

loadBundle().exports.main(PACKAGE_ROOT);
