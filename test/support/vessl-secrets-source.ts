// `vessl-secrets` run from source (tsx), for commands whose tests need no build.
import { run } from '../../services/server/vessl-secrets.js';

run(process.argv.slice(2));
