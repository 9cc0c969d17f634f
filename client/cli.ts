// The operator CLI: `npm run runbook -- <command>` or the `runbook` bin. One error handler prints one readable
// line and exits non-zero.
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

export function buildProgram(): Command {
  const program = new Command('runbook')
    .description('Runbooks as durable Temporal workflows: start, approve, reject, watch')
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
