// wsl-utils as oclif's util/os.js sees it inside the vesslctl bundle (scripts/build-cli.ts
// substitutes it there). oclif reads isWsl at every start, for config.platform, and
// powerShellPath only on Windows; wsl-utils loads node:child_process as it loads (~1.5 ms of a
// cold start) for its PowerShell helpers, so those load with it when first asked for.
export { default as isWsl } from 'is-wsl';

export async function powerShellPath(): Promise<string> {
  return (await import('wsl-utils')).powerShellPath();
}
