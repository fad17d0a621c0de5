// The shadowvm command. User errors print one line and exit non-zero; anything else is a bug and
// keeps its stack trace.

import { isShadowvmError } from '../errors.js';
import { DEMO_USAGE, demoCommand } from './commands/demo.js';
import { GUEST_USAGE, guestCommand } from './commands/guest.js';
import { LIST_USAGE, listCommand } from './commands/list.js';
import { LOG_USAGE, logCommand } from './commands/log.js';
import { RUN_USAGE, runCommand } from './commands/run.js';
import { SERVE_USAGE, serveCommand } from './commands/serve.js';

const COMMANDS: Record<string, { run: (argv: readonly string[]) => Promise<number>; usage: string }> = {
  run: { run: runCommand, usage: RUN_USAGE },
  serve: { run: serveCommand, usage: SERVE_USAGE },
  list: { run: listCommand, usage: LIST_USAGE },
  log: { run: logCommand, usage: LOG_USAGE },
  demo: { run: demoCommand, usage: DEMO_USAGE },
  guest: { run: guestCommand, usage: GUEST_USAGE },
};

const HELP = `shadowvm: shadow VMs beside a primary, to catch silent corruption and divergence early

commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage.split('\n')[0]?.replace('usage: ', '')}`)
  .join('\n')}

shadowvm COMMAND --help shows a command's options.`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`shadowvm: unknown command ${name}; commands are ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  const split = rest.indexOf('--');
  const own = split >= 0 ? rest.slice(0, split) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isShadowvmError(error)) {
      process.stderr.write(`shadowvm: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(`shadowvm: internal error (a bug, please report it):\n${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 70;
  },
);
