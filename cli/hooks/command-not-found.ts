import type { Hook } from '../oclif.js';

/** One error line for a mistyped command, like every other vesslctl error (exit 1). */
const commandNotFound: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':');
  const topic = words.slice(0, -1).join(' ');
  const known = topic !== '' && options.config.topics.some((t) => t.name === words.slice(0, -1).join(':'));
  const help = known ? `vesslctl ${topic} --help` : 'vesslctl --help';
  process.stderr.write(`error: unknown command "${words.join(' ')}" (see \`${help}\`)\n`);
  this.exit(1);
};

export default commandNotFound;
