#!/usr/bin/env node
// The CLI runs from its bundle (`make build`): one file for oclif and the commands instead of
// hundreds of modules, which is most of a cold start.
await import('../dist/vesslctl/main.js');
