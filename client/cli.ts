// The operator CLI: `npm run runbook -- <command>` or the `runbook` bin. One error handler prints one readable
// line and exits non-zero.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerApproval } from './commands/approve';
import { registerDeploy } from './commands/deploy';
import { registerList } from './commands/list';
import { registerReport } from './commands/report';
import { registerWatch } from './commands/watch';
import { registerSchedules } from './commands/schedules';
import { registerOperator } from './commands/operator';
import { registerStart } from './commands/start';
import { registerStatus } from './commands/status';
import { describeError, UserError } from './errors';

/** The version in the project's package.json: the nearest one above this file (client/ or dist/client/). */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: string };
      if (version) return version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('runbook')
    .description('Runbooks as durable Temporal workflows: start, approve, reject, watch')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    // Throw instead of exiting, so one handler decides the exit code (and tests can run the CLI in-process).
    .exitOverride();
  registerStart(program);
  registerApproval(program);
  registerStatus(program);
  registerList(program);
  registerOperator(program);
  registerDeploy(program);
  registerSchedules(program);
  registerWatch(program);
  registerReport(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    // commander has already printed its own message (usage errors, --help, --version).
    if (err instanceof CommanderError) return err.exitCode;
    console.error(`error: ${describeError(err)}`);
    return err instanceof UserError ? err.exitCode : 1;
  }
}

if (require.main === module) {
  void run(process.argv).then((code) => process.exit(code));
}
