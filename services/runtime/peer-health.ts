import { Client, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { channelCredentials, CHANNEL_DEFAULTS } from './grpc-client.js';

/**
 * A dependency check for health: asks a peer service's grpc.health.v1 whether it is
 * SERVING (within timeoutMs). A service that cannot reach, or is refused by, a peer it
 * needs for its calls reports NOT_SERVING itself.
 */
export function peerHealthCheck(
  peer: { name: string; endpoint: string },
  channel: { credentials?: ChannelCredentials; channelOptions?: ChannelOptions } = {},
  timeoutMs = 2_000,
): { check: () => Promise<void>; close(): void } {
  const client = new Client(peer.endpoint, channel.credentials ?? channelCredentials(peer.endpoint), { ...CHANNEL_DEFAULTS, ...channel.channelOptions });
  const check = healthService.Check;
  return {
    check: () =>
      new Promise<void>((resolve, reject) => {
        client.makeUnaryRequest(
          check.path,
          check.requestSerialize,
          check.responseDeserialize,
          { service: '' }, // the peer's overall status
          { deadline: Date.now() + timeoutMs },
          (err, response?: { status?: string | number }) => {
            if (err) reject(new Error(`${peer.name} at ${peer.endpoint} is unreachable: ${err.details || err.message}`));
            else if (response?.status !== 'SERVING' && response?.status !== 1) reject(new Error(`${peer.name} at ${peer.endpoint} is ${String(response?.status)}`));
            else resolve();
          },
        );
      }),
    close: () => client.close(),
  };
}
