// `runbook schedules apply|list|trigger|pause|unpause`: the backup-verification schedule.
import path from 'node:path';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import type { Command } from 'commander';
import os from 'node:os';
import { uiLink, withConnection } from '../connection';
import { UserError } from '../errors';
import { outputStyle, renderTable } from '../format';
import { applySchedule, BACKUP_VERIFICATION_SCHEDULE } from '../schedules';

export function registerSchedules(program: Command): void {
  const schedules = program.command('schedules').description('the backup-verification Temporal Schedule');

  schedules
    .command('apply')
    .description('create or update the schedule (idempotent)')
    .option('-i, --input <file>', 'backupVerification input', path.join('docs', 'examples', 'backup-verification.json'))
    .option('--every <duration>', 'interval, e.g. 24h or 7d (default 24h)')
    .option('--cron <expression>', 'cron expression instead of an interval, e.g. "0 3 * * *"')
    .option('--catchup-window <duration>', 'how late a missed run may still start', '1h')
    .option('--id <scheduleId>', 'schedule id', BACKUP_VERIFICATION_SCHEDULE)
    .option('--json', 'print the result as JSON')
    .action(
      async (o: {
        input: string;
        every?: string;
        cron?: string;
        catchupWindow: string;
        id: string;
        json?: boolean;
      }) => {
        if (o.every && o.cron) {
          throw new UserError('give --every or --cron, not both: a schedule runs on one of them', 2);
        }
        await withConnection(async (conn) => {
          const what = await applySchedule(conn.client, {
            id: o.id,
            inputFile: o.input,
            ...(o.every ? { every: o.every } : {}),
            ...(o.cron ? { cron: o.cron } : {}),
            catchupWindow: o.catchupWindow,
          });
          console.log(o.json ? JSON.stringify({ scheduleId: o.id, result: what }) : `schedule ${o.id} ${what}`);
        });
      },
    );

  schedules
    .command('list')
    .description('schedules and their next runs')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      await withConnection(async (conn) => {
        const rows: { id: string; paused: boolean; next: string; recent: string; note: string }[] = [];
        for await (const s of conn.client.schedule.list()) {
          rows.push({
            id: s.scheduleId,
            paused: s.state.paused,
            next: s.info.nextActionTimes[0]?.toISOString() ?? '',
            recent: s.info.recentActions.at(-1)?.takenAt.toISOString() ?? '',
            note: s.state.note ?? '',
          });
        }
        if (o.json) return console.log(JSON.stringify(rows, null, 2));
        if (!rows.length) return console.log('no schedules');
        console.log(
          renderTable(
            outputStyle(),
            ['schedule', 'paused', 'next run (UTC)', 'last run (UTC)', 'note'],
            rows.map((r) => [r.id, r.paused ? 'yes' : 'no', r.next.slice(0, 19), r.recent.slice(0, 19), r.note]),
            { wordWrap: true, colWidths: [22, 8, 22, 22, 50] },
          ),
        );
      });
    });

  schedules
    .command('trigger')
    .description('start a run now (overlap policy applies; refused while the schedule is paused)')
    .argument('[scheduleId]', 'schedule id', BACKUP_VERIFICATION_SCHEDULE)
    .option('--even-if-paused', 'start a run although the schedule is paused (its note says why it is)')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, o: { evenIfPaused?: boolean; json?: boolean }) => {
      await withConnection(async (conn) => {
        const handle = conn.client.schedule.getHandle(id);
        // Temporal runs a triggered action even on a paused schedule; someone paused it for a reason.
        const { state } = await handle.describe();
        if (state.paused && !o.evenIfPaused) {
          throw new UserError(
            `refused: schedule ${id} is paused${state.note ? ` (${state.note})` : ''}; nothing was started. ` +
              `Unpause it (npm run runbook -- schedules unpause) or trigger anyway with --even-if-paused`,
          );
        }
        // Skip, as the schedule itself does: a run still going is not joined by a second one.
        await handle.trigger(ScheduleOverlapPolicy.SKIP);
        if (state.paused && !o.json)
          console.log(`note: ${id} is paused${state.note ? ` (${state.note})` : ''}; triggered anyway`);
        const ui = uiLink(conn, id).replace('/workflows/', '/schedules/');
        if (o.json) return console.log(JSON.stringify({ scheduleId: id, triggered: true, ui }));
        console.log(`triggered ${id}; see: npm run runbook -- list --runbook backupVerification`);
        console.log(`  UI: ${ui}`);
      });
    });

  for (const [name, pause] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    schedules
      .command(name)
      .description(pause ? 'stop starting runs' : 'start runs again')
      .argument('[scheduleId]', 'schedule id', BACKUP_VERIFICATION_SCHEDULE)
      .option('--note <text>', 'why')
      .option('--json', 'print the result as JSON')
      .action(async (id: string, o: { note?: string; json?: boolean }) => {
        await withConnection(async (conn) => {
          const handle = conn.client.schedule.getHandle(id);
          // Always a note of our own: without one the SDK writes its default, and the note is what tells the next
          // person why the schedule is (not) paused.
          const note =
            o.note ?? `${pause ? 'paused' : 'unpaused'} by ${os.userInfo().username} with runbook schedules ${name}`;
          if (pause) await handle.pause(note);
          else await handle.unpause(note);
          console.log(
            o.json ? JSON.stringify({ scheduleId: id, paused: pause }) : `${id} ${pause ? 'paused' : 'unpaused'}`,
          );
        });
      });
  }
}
