// Bundles vesslctl into dist/vesslctl/ with esbuild. Part of `make build` (and `npm run build`):
//   node --import tsx scripts/build-cli.ts
// Cold start is dominated by loading code. The bundle is one CommonJS file (oclif, the commands,
// grpc-js, ...) instead of ~250 modules, and bin/vesslctl.js runs it through
// dist/vesslctl/loader.cjs (cli/bundle/loader.ts) with V8's code cache instead of compiling it.
// The cache is written here, after a training run of `vesslctl secret list` (trainCodeCache).
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { build, type Plugin } from 'esbuild';
import { withBuildId } from '../cli/bundle/loader.js';
import { Secret, Secret_State, SecretServiceService, type SecretServiceServer } from '../services/gen/vessl/secrets/v1/secrets.js';
import { run } from '../test/support/processes.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = path.join(ROOT, 'dist', 'vesslctl');
const BUNDLE = path.join(OUT_DIR, 'vesslctl.cjs');

rmSync(OUT_DIR, { recursive: true, force: true });
const common = { absWorkingDir: ROOT, bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' } as const;

/**
 * Modules a dependency gets in place of one it imports, in the bundle: the same exports, one
 * answered more quickly (see each file). By the imported name and the importer's path (under
 * node_modules); another importer gets the module itself.
 */
const SUBSTITUTES: Array<{ module: string; importer: string; substitute: string }> = [
  { module: 'net', importer: '@grpc/grpc-js/', substitute: 'cli/bundle/grpc-net.ts' },
  { module: 'wsl-utils', importer: '@oclif/core/lib/util/os.js', substitute: 'cli/bundle/oclif-wsl-utils.ts' },
  { module: 'node:fs/promises', importer: '@oclif/core/lib/util/fs.js', substitute: 'cli/bundle/oclif-fs-promises.ts' },
];

/** What the plugins below changed, so that the build fails when a patch no longer applies. */
const applied = new Set<string>();

const substitutes: Plugin = {
  name: 'substitutes',
  setup(build) {
    for (const { module, importer, substitute } of SUBSTITUTES) {
      build.onResolve({ filter: new RegExp(`^${module}$`) }, (args) => {
        if (!nodeModulesPath(args.importer).startsWith(importer)) return undefined;
        applied.add(substitute);
        return { path: path.join(ROOT, substitute) };
      });
    }
  },
};

/** node_modules as esbuild names the files in it (it resolves symbolic links). */
const NODE_MODULES = realpathSync(path.join(ROOT, 'node_modules'));

/** A file's path under node_modules ('' outside), with '/' separators. */
function nodeModulesPath(file: string): string {
  const relative = path.relative(NODE_MODULES, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? '' : relative.split(path.sep).join('/');
}

/** A dynamic import() whose argument is not a string literal (esbuild bundles those). */
const COMPUTED_IMPORT = /(?<![\w$."'`])import\((?!\s*['"`])/g;
/** Any import() call: none may be left in the bundle, it would throw when it runs. */
const ANY_IMPORT = /(?<![\w$."'`])import\(/;

/**
 * Modules that a run of a vesslctl command never uses but that their importers load as they
 * load, by file (under node_modules) and the variable the module is required into. The
 * `require()` becomes vesslctlLazyModule(() => require(...)) (see the banner), which loads the
 * module on first use; every use in these files reads a member of it, which the build checks.
 */
const LAZY_REQUIRES: Record<string, string[]> = {
  // finding commands by file pattern (vesslctl lists them: package.json oclif.commands)
  '@oclif/core/lib/config/plugin.js': ['tinyglobby_1'],
  // matching plugin names (only help and unknown commands load plugins)
  '@oclif/core/lib/config/plugin-loader.js': ['minimatch_1'],
  // rendering templates (of the update and S3 settings, of help)
  '@oclif/core/lib/config/config.js': ['ejs_1'],
  '@oclif/core/lib/help/util.js': ['ejs_1'],
  // telling ES modules from CommonJS by package.json (vesslctl's command map is a .cjs file)
  '@oclif/core/lib/module-loader.js': ['getPackageType'],
  // reading an argument from stdin (vesslctl's arguments never do: BaseCommand)
  '@oclif/core/lib/parser/parse.js': ['node_readline_1'],
  // compressed messages (vessl-secrets sends none unless asked)
  '@grpc/grpc-js/build/src/compression-filter.js': ['zlib'],
  '@grpc/grpc-js/build/src/server-interceptors.js': ['zlib'],
  // oclif's performance markers (off unless OCLIF_PERFORMANCE is set)
  '@oclif/core/lib/performance.js': ['node_perf_hooks_1'],
  // finding the Windows shell
  '@oclif/core/lib/util/os.js': ['node_child_process_1'],
  // reading a plugin's package.json (vesslctl passes its own)
  '@oclif/core/lib/util/read-pjson.js': ['lilconfig_1'],
  // spinners (no vesslctl command shows one)
  '@oclif/core/lib/ux/action/spinner.js': ['cli_spinners_1', 'ansis_1', 'ansiEscapes'],
  // rendering errors and help (vesslctl prints its own errors; help runs load these on use)
  '@oclif/core/lib/errors/errors/cli.js': ['clean_stack_1', 'indent_string_1', 'wrap_ansi_1'],
  '@oclif/core/lib/errors/errors/pretty-print.js': ['indent_string_1', 'wrap_ansi_1'],
  '@oclif/core/lib/errors/handle.js': ['clean_stack_1'],
  '@oclif/core/lib/help/formatter.js': ['ansis_1', 'indent_string_1', 'string_width_1', 'widest_line_1', 'wrap_ansi_1'],
  '@oclif/core/lib/help/index.js': ['ansis_1'],
  '@oclif/core/lib/help/command.js': ['ansis_1'],
  '@oclif/core/lib/help/root.js': ['ansis_1'],
  '@oclif/core/lib/ux/theme.js': ['ansis_1'],
};

/** The declarations LAZY_REQUIRES rewrites: `const x = require("m");`, or `__importDefault(require("m"))`. */
function lazyRequire(text: string, file: string, variable: string): string {
  const declaration = new RegExp(`^const ${variable} = ((?:__importDefault\\()?require\\((["'])[^"']+\\2\\)\\)?);$`, 'm');
  const match = declaration.exec(text);
  if (!match) throw new Error(`${file}: no \`const ${variable} = require(...)\` to make lazy (LAZY_REQUIRES)`);
  if (new RegExp(`(?<![\\w$."'\`])${variable}\\b(?!\\.)`).test(text.replace(declaration, ''))) {
    throw new Error(`${file}: ${variable} is used other than as ${variable}.member (LAZY_REQUIRES)`);
  }
  return text.replace(declaration, `const ${variable} = vesslctlLazyModule(() => ${match[1]});`);
}

/**
 * Files whose non-ASCII characters are escaped, each with why that changes nothing. esbuild
 * escapes the others itself (in strings, templates, identifiers); an ASCII bundle is read as
 * latin1, several times faster than UTF-8 (cli/bundle/loader.ts).
 */
const ASCII_ESCAPES = [
  // strip()'s regular expression holds a raw U+009B (CSI); \u009b matches the same (only the
  // expression's `source` text differs, which ansis never reads).
  'ansis/index.js',
];

/**
 * Small edits of a dependency's text, each with why it changes nothing else: the text it
 * replaces must be found (the build fails otherwise).
 */
const TEXT_PATCHES: Array<{ file: string; from: string; to: string }> = [
  // grpc-js names an IP address as the TLS server name, for which Node prints DEP0123 (RFC 6066:
  // SNI carries host names only). No server name for an IP: tls.connect then checks the
  // certificate against the IP address (its host), exactly as before.
  {
    file: '@grpc/grpc-js/build/src/channel-credentials.js',
    from: 'connectionOptions.servername = remoteHost;',
    to: 'connectionOptions.servername = require("node:net").isIP(remoteHost) ? undefined : remoteHost;',
  },
];

const escapeNonAscii = (text: string) => text.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Rewrites dependencies as they are bundled: computed import()s call the loader's importModule
 * (code compiled by vm.Script with a code cache cannot import() in Node 20 without
 * --experimental-vm-modules; oclif imports its ESM plugin, help, by file URL),
 * LAZY_REQUIRES, TEXT_PATCHES and ASCII_ESCAPES.
 */
const dependencyPatches: Plugin = {
  name: 'dependency-patches',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      let patched = text.replace(COMPUTED_IMPORT, 'importModule(');
      const file = nodeModulesPath(args.path);
      for (const variable of LAZY_REQUIRES[file] ?? []) {
        patched = lazyRequire(patched, file, variable);
        applied.add(`${file} ${variable}`);
      }
      for (const patch of TEXT_PATCHES.filter((p) => p.file === file)) {
        if (!patched.includes(patch.from)) throw new Error(`${file}: no \`${patch.from}\` to patch (TEXT_PATCHES)`);
        patched = patched.replace(patch.from, patch.to);
        applied.add(`${file} ${patch.from}`);
      }
      if (ASCII_ESCAPES.includes(file) && /[^\0-\x7f]/.test(patched)) {
        patched = escapeNonAscii(patched);
        applied.add(file);
      }
      return patched === text ? undefined : { contents: patched, loader: 'js' };
    });
  },
};

/**
 * The bundle is a function expression: a CommonJS module's body in the wrapper Node puts around
 * one, importModule added. The loader compiles it as it is, with no copy of ~2.5 MB of source
 * to wrap (cli/bundle/loader.ts); oclif's require() of it finds the loaded module in require's
 * cache. The body is strict (as ES modules are) only if its first statement says so.
 */
const WRAPPER = {
  js: [
    '(function (exports, require, module, __filename, __dirname, importModule) {"use strict";',
    'var vesslctlLazyModule = (load) => { let loaded; return new Proxy({}, { get: (_, key) => (loaded ??= load())[key] }); };',
  ].join('\n'),
};

await build({
  ...common,
  entryPoints: ['cli/main.ts'],
  outfile: BUNDLE,
  format: 'cjs',
  plugins: [substitutes, dependencyPatches],
  // import() of a module esbuild leaves out of the bundle (a Node built-in such as node:readline)
  // becomes a require(): code compiled by vm.Script cannot import() (dependencyPatches).
  supported: { 'dynamic-import': false },
  banner: WRAPPER,
  footer: { js: '})' },
  // Loaded only on paths vesslctl never takes (oclif's TypeScript support, grpc-js channelz):
  // left to node_modules rather than carried in the bundle.
  external: ['typescript', 'ts-node', '@grpc/proto-loader'],
});
const expected = [
  ...SUBSTITUTES.map((s) => s.substitute),
  ...Object.entries(LAZY_REQUIRES).flatMap(([file, variables]) => variables.map((v) => `${file} ${v}`)),
  ...ASCII_ESCAPES,
  ...TEXT_PATCHES.map((p) => `${p.file} ${p.from}`),
];
const missed = expected.filter((patch) => !applied.has(patch));
if (missed.length > 0) throw new Error(`patches that no longer apply (SUBSTITUTES, LAZY_REQUIRES, ASCII_ESCAPES, TEXT_PATCHES): ${missed.join(', ')}`);

// CommonJS, as bin/vesslctl.js is (bin/package.json).
await build({
  ...common,
  entryPoints: ['cli/bundle/loader.ts'],
  outfile: path.join(OUT_DIR, 'loader.cjs'),
  format: 'cjs',
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: '"use strict";\nconst importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
});

const source = readFileSync(BUNDLE, 'latin1');
const nonAscii = source.split('\n').findIndex((line) => /[^\0-\x7f]/.test(line));
if (nonAscii !== -1) throw new Error(`${BUNDLE}:${nonAscii + 1}: a non-ASCII character is left (see ASCII_ESCAPES)`);
if (source.search(ANY_IMPORT) !== -1) throw new Error(`${BUNDLE}: an import() is left (see dependencyPatches and \`supported\`)`);
writeFileSync(BUNDLE, withBuildId(source));

/** The built loader, as a CommonJS require() in a `node -e` script. */
const REQUIRE_LOADER = `require(${JSON.stringify(path.join(OUT_DIR, 'loader.cjs'))})`;
/** A run of the built CLI that takes longer than this is stuck (it takes well under a second). */
const RUN_TIMEOUT_MS = 120_000;

/**
 * The code cache's training run: `vesslctl secret list -o json` in a fresh node (started as
 * bin/vesslctl.js starts one: V8 refuses a cache made under other flags), with its own config
 * dir, against a stand-in server that answers ListSecrets with a few secrets, so that every
 * function of the command's path, from flag parsing to the printed JSON, is compiled into the
 * cache. The cache is written as the process exits.
 */
async function trainCodeCache(): Promise<void> {
  const training = trainingServer();
  const port = await new Promise<number>((resolve, reject) =>
    training.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  const home = mkdtempSync(path.join(tmpdir(), 'vesslctl-build-'));
  try {
    const script = `const { loadBundle, writeCodeCache, PACKAGE_ROOT } = ${REQUIRE_LOADER};
      const bundle = loadBundle({ codeCache: false });
      process.on('exit', () => writeCodeCache(bundle));
      bundle.exports.main(PACKAGE_ROOT, ['secret', 'list', '-o', 'json']);`;
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      VESSLCTL_CONFIG_DIR: path.join(home, 'config'),
      VESSLCTL_ENDPOINT: `127.0.0.1:${port}`,
      VESSLCTL_ACCESS_TOKEN: 'build-training',
      VESSLCTL_ORG: 'build-training',
    };
    // Not a blocking run: this process serves it.
    const { code, stdout, stderr } = await run('-e', [script], { env, timeoutMs: RUN_TIMEOUT_MS });
    const printed = code === 0 ? (JSON.parse(stdout) as { name?: string }[]) : [];
    if (printed.map((s) => s.name).join() !== TRAINING_SECRETS.map((s) => s.name).join()) {
      throw new Error(`the code cache's training run failed (exit ${code}): ${stderr}${stdout}`);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
    training.forceShutdown();
  }
}

const TRAINING_SECRETS = ['HF_TOKEN', 'WANDB_API_KEY', 'DATABASE_URL'].map((name, i) =>
  Secret.fromPartial({
    org: 'build-training',
    name,
    uid: `s_training${i}`,
    key: name,
    description: `${name} for the training run`,
    version: i + 1,
    state: Secret_State.STATE_ACTIVE,
    createTime: new Date(0),
    updateTime: new Date(0),
    valueUpdateTime: new Date(0),
    createBy: 'build',
    updateBy: 'build',
    valueFingerprint: '0'.repeat(64),
  }),
);

/** Answers ListSecrets with TRAINING_SECRETS; every other method is UNIMPLEMENTED. */
function trainingServer(): Server {
  const server = new Server();
  const listSecrets: SecretServiceServer['listSecrets'] = (_call, callback) => callback(null, { secrets: TRAINING_SECRETS, nextPageToken: '' });
  server.addService(SecretServiceService, { listSecrets } as Partial<SecretServiceServer> as SecretServiceServer);
  return server;
}

await trainCodeCache();
const check = await run('-e', [`process.stdout.write(String(${REQUIRE_LOADER}.loadBundle().usedCodeCache));`], { env: { PATH: process.env.PATH }, timeoutMs: RUN_TIMEOUT_MS });
if (check.stdout !== 'true') throw new Error(`V8 did not accept the code cache written for dist/vesslctl/vesslctl.cjs: ${check.stderr}`);
