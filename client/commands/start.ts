// `runbook start <runbook> --input <file>`: validate locally, start with the resource's workflow ID, print the link.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Command } from 'commander';
import { describeZodError } from '../../api/common';
import { TASK_QUEUE } from '../../api/definitions';
import { findRunbook, RUNBOOKS } from '../../api/runbooks';
import { awsOptionHelp, proofField } from '../aws-proof';
import { uiLink, withConnection } from '../connection';
import { UserError } from '../errors';
import { describeHolder } from '../../activities/temporal';
import { checkSearchAttributes, searchAttributesHelp } from '../search-attributes';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start a runbook from a JSON input file')
    .argument('<runbook>', `one of: ${RUNBOOKS.map((r) => r.type).join(', ')}`)
    .requiredOption('-i, --input <file>', 'JSON input (see docs/examples/)')
    .option('--as <name>', 'who is starting it (default: initiatedBy from the file, else your user name)')
    .option('--dry-run', 'plan only: run read-only steps, change nothing')
    .option('--aws', awsOptionHelp("this start, its workflow ID and the input's reason (sent as initiatorProof)"))
    .option('--workflow-id <id>', 'override the workflow ID derived from the target resource')
    .option('--task-queue <name>', 'task queue', process.env.RUNBOOKS_TASK_QUEUE || TASK_QUEUE)
    .option('--json', 'print the result as JSON')
    .action(
      async (
        name: string,
        opts: {
          input: string;
          as?: string;
          dryRun?: boolean;
          aws?: boolean;
          workflowId?: string;
          taskQueue: string;
          json?: boolean;
        },
      ) => {
        const entry = findRunbook(name);
        if (!entry)
          throw new UserError(`unknown runbook "${name}"; known: ${RUNBOOKS.map((r) => r.type).join(', ')}`, 2);
        let raw: Record<string, unknown>;
        try {
          raw = JSON.parse(readFileSync(opts.input, 'utf8')) as Record<string, unknown>;
        } catch (err) {
          throw new UserError(`cannot read --input ${opts.input}: ${(err as Error).message}`, 2);
        }
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
          throw new UserError(`--input ${opts.input}: expected a JSON object`, 2);
        }
        const input: Record<string, unknown> = {
          ...raw,
          initiatedBy: opts.as ?? raw.initiatedBy ?? os.userInfo().username,
          ...(opts.dryRun ? { dryRun: true } : {}),
        };
        const parsed = entry.schema.safeParse(input);
        if (!parsed.success) {
          throw new UserError(
            `invalid input (${opts.input}): ${describeZodError(parsed.error)}. Nothing was started.`,
            2,
          );
        }
        const params = parsed.data as { reason?: string };
        // A dry run changes nothing and must not occupy the resource's ID, so it gets an ID of its own.
        const derived = entry.workflowId(parsed.data as never);
        const dryRun = (parsed.data as { dryRun?: boolean }).dryRun === true;
        const workflowId = opts.workflowId ?? (dryRun ? `${derived}:dry-run-${randomUUID().slice(0, 8)}` : derived);
        await withConnection(async (conn) => {
          // A namespace without our search attributes would take the run and leave it hanging: say so first.
          const problems = await checkSearchAttributes(conn.client, conn.namespace);
          if (problems.missing.length > 0 || problems.wrongType.length > 0) {
            throw new UserError(`${searchAttributesHelp(conn.namespace, problems)}\nNothing was started.`);
          }
          if (opts.aws) {
            // Bound to the ID the run starts under (it has no run ID yet) and to its reason, as the run reads it.
            const { proof } = await proofField(true, { workflowId, decision: 'start', text: params.reason ?? '' });
            if (params.reason !== undefined) input.reason = params.reason;
            input.initiatorProof = proof;
          }
          const handle = await conn.client.workflow
            .start(entry.type, {
              taskQueue: opts.taskQueue,
              workflowId,
              args: [input],
              workflowIdConflictPolicy: 'FAIL',
              staticSummary: `${entry.type}: ${workflowId.split(':').slice(1).join(':')}${params.reason ? ` — ${params.reason}` : ''}`,
            })
            .catch(async (err: unknown) => {
              if (err instanceof WorkflowExecutionAlreadyStartedError) {
                const holder = await describeHolder(conn.client, workflowId);
                throw new UserError(
                  `refused: another run is already open on this resource: ${holder}. Nothing was started. ` +
                    `See it with: npm run runbook -- status ${workflowId}`,
                );
              }
              throw err;
            });
          const link = uiLink(conn, handle.workflowId, handle.firstExecutionRunId);
          if (opts.json) {
            console.log(JSON.stringify({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId, ui: link }));
          } else {
            console.log(`started ${entry.type}${dryRun ? ' (dry run: nothing will change)' : ''}`);
            console.log(`  workflow ID: ${handle.workflowId}`);
            console.log(`  run ID:      ${handle.firstExecutionRunId}`);
            console.log(`  UI:          ${link}`);
            console.log(`  status:      npm run runbook -- status ${handle.workflowId}`);
          }
        });
      },
    );
}
