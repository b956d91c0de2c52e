import { serveEcho } from './echo-baseline.js';

// The echo baseline's own process; startEcho() waits for this line.
const port = await serveEcho();
process.stdout.write(`serving on 127.0.0.1:${port}\n`);
