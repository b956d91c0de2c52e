// node:net as grpc-js sees it inside the vesslctl bundle (scripts/build-cli.ts substitutes it for
// grpc-js' `require("net")`). grpc-js asks isIPv6 of every address it handles; Node answers with
// a large regular expression that V8 compiles on first use (~4 ms of a cold start). An IPv6
// address always has a ':', so a host without one is answered at once, with the same result.
import net from 'node:net';

export * from 'node:net';

export function isIPv6(input: string): boolean {
  const text = `${input}`;
  return text.includes(':') && net.isIPv6(text);
}

export function isIP(input: string): number {
  if (net.isIPv4(input)) return 4;
  return isIPv6(input) ? 6 : 0;
}
