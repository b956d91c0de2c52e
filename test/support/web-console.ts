import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../services/runtime/logger.js';
import { defaultStaticDir, startWebConsole, type RunningWebConsole } from '../../services/web-console/web-console.js';
import { startTestSystem, type TestSystem } from './system.js';

/** A real all-in-one server with its web console in front, both on port 0. */
export interface ConsoleSystem {
  sys: TestSystem;
  web: RunningWebConsole;
  /** The web console's own log file (its bridge logs every call). */
  webLogFile: string;
  stop(): Promise<void>;
}

export async function startConsoleSystem(opts: { databaseUrl?: string } = {}): Promise<ConsoleSystem> {
  const sys = await startTestSystem(opts);
  const webLogFile = path.join(sys.dataDir, 'web-console.log');
  const logStream = createWriteStream(webLogFile);
  let web: RunningWebConsole;
  try {
    web = await startWebConsole({ listen: '127.0.0.1:0', grpcEndpoint: sys.endpoint, log: createLogger('web-console', logStream, 'debug') });
  } catch (err) {
    await sys.stop();
    throw err;
  }
  return {
    sys,
    web,
    webLogFile,
    async stop() {
      await web.close();
      await new Promise<void>((resolve) => logStream.end(resolve));
      await sys.stop();
    },
  };
}

/** The console must have been built (make build runs `vite build web`); say how when it was not. */
export function requireBuiltConsole(): void {
  if (!existsSync(path.join(defaultStaticDir(), 'index.html'))) {
    throw new Error(`the web console is not built (${defaultStaticDir()} is missing): run \`make build\` or \`npx vite build web\` first`);
  }
}

/** POSTs `body` (a string, sent as is) to the bridge's route for `method`. */
export async function postApi(
  web: RunningWebConsole,
  method: string,
  body: string,
  opts: { token?: string; contentType?: string; httpMethod?: string } = {},
): Promise<{ status: number; contentType: string; text: string; json: () => unknown }> {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const response = await fetch(new URL(`api${method}`, web.url), {
    method: opts.httpMethod ?? 'POST',
    headers,
    body: (opts.httpMethod ?? 'POST') === 'GET' ? undefined : body,
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
}
