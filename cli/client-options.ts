import { channelCredentials } from '../services/runtime/grpc-client.js';
import type { Connection } from './settings.js';

/**
 * How the CLI's clients reach the server: the token, and TLS trusting --ca-cert when one is
 * given (plaintext only to a loopback endpoint without one). Imported lazily with grpc-js.
 */
export function clientOptions(connection: Connection) {
  return {
    token: async () => connection.token,
    credentials: channelCredentials(connection.endpoint, connection.caCert ? { caFile: connection.caCert } : undefined),
  };
}
