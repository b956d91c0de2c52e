// The parts of @oclif/core that vesslctl uses, imported here only (eslint.config.js):
// - by subpath: @oclif/core's index module also checks the Node version with semver (~2 ms of
//   every start, and inside the bundle the check cannot find its package.json anyway);
// - once: the bundle wraps a CommonJS module for each ES module that imports it, copying all its
//   exports, and 27 commands import Flags and Args.
export * as Args from '@oclif/core/args';
export { Command } from '@oclif/core/command';
export * as Errors from '@oclif/core/errors';
export { execute } from '@oclif/core/execute';
export { Help } from '@oclif/core/help';
export * as Flags from '@oclif/core/flags';
export { settings } from '@oclif/core/settings';
export type { Hook, Interfaces } from '@oclif/core';
