// Why vesslctl could not talk to the server, from what grpc-js says about the connection (and,
// where that is ambiguous, one probe of the endpoint): refused, DNS, TLS against a plaintext
// server, plaintext against a TLS server, an untrusted certificate, something that is not gRPC.
// Loaded only after a call failed in transport (cli/errors.ts), so never on a cold start.
import { connect } from 'node:tls';
import { isIP } from 'node:net';

export interface UnreachableContext {
  endpoint: string;
  /** Where the endpoint came from: "--endpoint", "VESSLCTL_ENDPOINT", a config file, or "default". */
  origin?: string;
  /** Whether vesslctl spoke plaintext (a loopback endpoint without --ca-cert) or TLS. */
  plaintext: boolean;
  /** A loopback endpoint: a server the user may start with `make up`. */
  loopback: boolean;
}

/** How long the TLS probe of an ambiguous failure may take; it answers at once in practice. */
const PROBE_TIMEOUT_MS = 3000;

/** The causes, each with what grpc-js' details say when it is the one. */
const CAUSES: Array<{ pattern: RegExp; says: (c: UnreachableContext) => string }> = [
  {
    pattern: /ECONNREFUSED/,
    says: (c) => `connection refused: nothing listens on that port; is the server running?${c.loopback ? ' (start it with `make up`)' : ''}`,
  },
  {
    pattern: /Name resolution failed|ENOTFOUND|EAI_AGAIN|EAI_NONAME/,
    says: (c) => `the host name ${hostOf(c.endpoint)} does not resolve (DNS): check the endpoint`,
  },
  {
    pattern: /wrong version number|packet length too long|unknown protocol|http request/i,
    says: () => 'the TLS handshake failed: the server answers in plaintext, not TLS (plaintext is for loopback endpoints without --ca-cert; or use its TLS endpoint)',
  },
  {
    pattern: /altnames|does not match certificate|ERR_TLS_CERT_ALTNAME_INVALID/,
    says: () => 'the server\'s TLS certificate is not for this host name: use the name the certificate is for',
  },
  {
    pattern: /self[- ]signed|unable to (verify|get local issuer)|certificate (has expired|is not yet valid)|CERT_/i,
    says: () => 'the server\'s TLS certificate is not trusted: pass --ca-cert with the CA that signed it',
  },
  {
    pattern: /Protocol error|HTTP\/1|Received HTTP status code/,
    says: () => 'what answers there is not a gRPC server (is it a web port, such as the web console\'s?)',
  },
  {
    pattern: /ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/,
    says: () => 'the host cannot be reached (no route, or the connection timed out): check the endpoint and the network',
  },
];

/** "cannot reach vessl-secrets at HOST:PORT (from ORIGIN): WHY" */
export async function describeUnreachable(details: string, context: UnreachableContext): Promise<string> {
  const from = context.origin === undefined ? '' : context.origin === 'default' ? ' (the default endpoint)' : ` (from ${context.origin})`;
  const cause = CAUSES.find(({ pattern }) => pattern.test(details));
  let why = cause?.says(context);
  // A TLS server drops a plaintext client without a word grpc-js could quote: ask the endpoint.
  if (why === undefined && context.plaintext && (await speaksTls(context.endpoint))) {
    why = 'the server speaks TLS, and vesslctl spoke plaintext (as it does to a loopback endpoint without --ca-cert): pass --ca-cert FILE';
  }
  why ??= `is the server running?${context.loopback ? ' (start it with `make up`)' : ''}${lastError(details)}`;
  return `cannot reach vessl-secrets at ${context.endpoint}${from}: ${why}`;
}

function hostOf(endpoint: string): string {
  return endpoint.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
}

/** grpc-js' "Last error: ..." of an unexplained failure, without its timestamp. */
function lastError(details: string): string {
  const last = /Last error: (?:Error: )?(.*?)(?: \(\d{4}-\d\d-\d\dT[^)]*\))?\.?(?: Resolution note:.*)?$/.exec(details)?.[1]?.trim();
  return last ? ` (${last})` : '';
}

/** True when a TLS handshake with the endpoint completes (whatever its certificate). */
function speaksTls(endpoint: string): Promise<boolean> {
  const host = hostOf(endpoint);
  const port = Number(/:(\d+)$/.exec(endpoint)?.[1]);
  return new Promise((resolve) => {
    // No SNI for an IP address (RFC 6066); the certificate does not matter to the question.
    const socket = connect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
