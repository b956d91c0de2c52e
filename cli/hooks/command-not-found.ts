import { EXIT } from '../exit-codes.js';
import type { Hook } from '../oclif.js';
import { closest } from '../suggest.js';

/**
 * One error line for a mistyped command, like every other usage error (exit 2), with the
 * command (or alias) it most likely meant.
 */
const commandNotFound: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':');
  const topic = words.slice(0, -1).join(' ');
  const known = topic !== '' && options.config.topics.some((t) => t.name === words.slice(0, -1).join(':'));
  const help = known ? `vesslctl ${topic} --help` : 'vesslctl --help';
  const ids = options.config.commands.filter((command) => !command.hidden).flatMap((command) => [command.id, ...command.aliases]);
  const meant = closest(options.id, ids);
  const suggestion = meant ? `: did you mean \`vesslctl ${meant.replaceAll(':', ' ')}\`?` : '';
  process.stderr.write(`error: unknown command "${words.join(' ')}"${suggestion} (see \`${help}\`)\n`);
  this.exit(EXIT.USAGE);
};

export default commandNotFound;
