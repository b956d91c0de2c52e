import { EXIT } from '../exit-codes.js';
import type { Hook } from '../oclif.js';

/** One error line for a mistyped command, like every other usage error (exit 2). */
const commandNotFound: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':');
  const topic = words.slice(0, -1).join(' ');
  const known = topic !== '' && options.config.topics.some((t) => t.name === words.slice(0, -1).join(':'));
  const help = known ? `vesslctl ${topic} --help` : 'vesslctl --help';
  process.stderr.write(`error: unknown command "${words.join(' ')}" (see \`${help}\`)\n`);
  this.exit(EXIT.USAGE);
};

export default commandNotFound;
