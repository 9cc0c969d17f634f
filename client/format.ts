// Terminal rendering of a run's status (header, step table, pending approval, decisions, compensations), and the one
// place that decides how the CLI's output is styled: colours and box-drawing only where a person looks at a terminal.
import Table from 'cli-table3';
import { formatDuration } from '../api/duration';
import { decisionsOf, type RunbookStatus } from '../api/status';

/** ANSI SGR codes (on, off) of the few colours the CLI uses. */
const SGR = {
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  grey: [90, 39],
} as const;
export type Colour = keyof typeof SGR;

/** How output to one stream is styled. Every command takes its styling from here, never from the stream itself. */
export interface Style {
  /** The stream is a terminal: box-drawing tables, symbols, redrawing in place. Otherwise plain ASCII lines. */
  readonly tty: boolean;
  /** ANSI colours. */
  readonly color: boolean;
  /** `text` in `colour` when colours are on; `text` as it is otherwise. */
  paint(colour: Colour, text: string): string;
  /** `fancy` on a terminal, `plain` (ASCII) in a pipe or a file. */
  symbol(fancy: string, plain: string): string;
}

type Env = Record<string, string | undefined>;

/**
 * Colours: never when NO_COLOR is set to anything (https://no-color.org); else as FORCE_COLOR says when it is set
 * (`0`/`false` off, anything else on, even in a pipe); else only on a terminal that is not TERM=dumb. Box-drawing and
 * symbols: only on a terminal, whatever the colour settings.
 */
export function outputStyle(stream: { isTTY?: boolean } = process.stdout, env: Env = process.env): Style {
  const tty = stream.isTTY === true;
  const color = colourWanted(tty, env);
  return {
    tty,
    color,
    paint: (colour, text) => (color && text ? `\x1b[${SGR[colour][0]}m${text}\x1b[${SGR[colour][1]}m` : text),
    symbol: (fancy, plain) => (tty ? fancy : plain),
  };
}

function colourWanted(tty: boolean, env: Env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return tty && env.TERM !== 'dumb';
}

/** cli-table3's borders in ASCII, for pipes and files. */
const ASCII_BORDERS = {
  top: '-',
  'top-mid': '+',
  'top-left': '+',
  'top-right': '+',
  bottom: '-',
  'bottom-mid': '+',
  'bottom-left': '+',
  'bottom-right': '+',
  left: '|',
  'left-mid': '+',
  mid: '-',
  'mid-mid': '+',
  right: '|',
  'right-mid': '+',
  middle: '|',
};

/**
 * A table: box-drawing borders on a terminal, ASCII ones elsewhere; header red and borders grey when colours are on.
 * cli-table3's own styling is switched off: it would ask @colors/colors, which decides by itself and ignores NO_COLOR.
 */
export function renderTable(
  style: Style,
  head: string[],
  rows: string[][],
  layout: { colWidths?: number[]; wordWrap?: boolean } = {},
): string {
  const table = new Table({
    head: head.map((h) => style.paint('red', h)),
    style: { head: [], border: [] },
    ...(style.tty ? {} : { chars: ASCII_BORDERS }),
    ...layout,
  });
  table.push(...rows);
  const text = table.toString();
  return style.color ? text.replace(/[─│┌┐└┘├┤┬┴┼]+/g, (border) => style.paint('grey', border)) : text;
}

/** A step's outcome: a coloured symbol on a terminal, the word itself elsewhere. */
function outcomeMark(style: Style, outcome: string): string {
  switch (outcome) {
    case 'succeeded':
      return style.paint('green', style.symbol('✔', outcome));
    case 'failed':
      return style.paint('red', style.symbol('✖', outcome));
    case 'running':
      return style.paint('yellow', style.symbol('…', outcome));
    case 'skipped':
      return style.paint('dim', style.symbol('–', outcome));
    default:
      return outcome;
  }
}

export function renderStatus(s: RunbookStatus, style: Style = outputStyle()): string {
  const out: string[] = [];
  out.push(`${s.runbook}  ${s.workflowId}`);
  out.push(`target: ${s.target}   state: ${s.state}${s.dryRun ? '   (dry run)' : ''}`);
  if (s.reason) out.push(`reason: ${s.reason}`);
  if (s.initiatedBy) out.push(`initiated by: ${s.initiatedBy}`);
  if (s.error) out.push(style.paint('red', `error: ${s.error}`));
  for (const w of s.warnings ?? []) out.push(style.paint('yellow', `warning: ${w}`));

  const steps = (s.steps ?? []).map((step) => {
    const took = step.endedAt ? formatDuration(Date.parse(step.endedAt) - Date.parse(step.startedAt)) : '';
    const details = step.error ? `error: ${step.error}` : summarize(step.details);
    return [
      outcomeMark(style, step.outcome),
      step.name + (step.mutating ? ' *' : ''),
      step.startedAt.replace('T', ' ').slice(0, 19),
      took,
      details,
    ];
  });
  out.push(
    renderTable(style, ['', 'step', 'started (UTC)', 'took', 'details'], steps, {
      wordWrap: true,
      // The first column holds a symbol on a terminal, the outcome's word ("succeeded") elsewhere.
      colWidths: [style.tty ? 3 : 11, 44, 21, 8, 60],
    }),
    '(* changes AWS)',
  );

  const pa = s.pendingApproval;
  if (pa) {
    out.push(
      '',
      style.paint(
        'yellow',
        `WAITING FOR APPROVAL (${pa.approvedBy?.length ?? 0} of ${pa.quorum}) until ${pa.deadline}`,
      ),
      `  plan: ${pa.summary}`,
      `  who: ${pa.approvers?.length ? pa.approvers.join(', ') : 'anyone'}${pa.secondPersonRequired && pa.initiator ? ` except ${pa.initiator} (initiator)` : ''}`,
      ...(pa.alsoNeeds?.length ? [`  also needs: ${pa.alsoNeeds.join('; ')}`] : []),
      `  approve: ${pa.how.cli}`,
      pa.identity === 'aws-iam'
        ? '  a verified AWS identity is required (--aws): a signal or update with a typed name is refused'
        : `  or signal "approve" with ${JSON.stringify({ by: '<your name>' })}; reject with signal "reject" ${JSON.stringify(pa.how.rejectExample)}`,
    );
    // Which rules the organisation policy set (the input asked for less, or named no one).
    const sources = s.policy?.sources;
    const fromPolicy = sources ? Object.entries(sources).filter(([, from]) => from === 'policy') : [];
    if (fromPolicy.length) {
      out.push(
        `  set by the organisation policy (${s.policy?.source}): ${fromPolicy.map(([rule]) => rule).join(', ')}`,
      );
    }
  }
  if (s.traffic) {
    const t = s.traffic;
    out.push(
      '',
      `TRAFFIC: blue ${t.blue}% / green ${t.green}%${t.step !== undefined ? `   step ${t.step}%` : ''}${t.phase ? `   ${t.phase}` : ''}${t.paused ? '   PAUSED' : ''}`,
    );
  }
  if (s.readings?.length) {
    const latest = new Map<string, (typeof s.readings)[number]>();
    for (const r of s.readings) latest.set(r.gate, r);
    const gates = [...latest.values()].map((r) => [
      r.gate,
      r.kind,
      String(r.value ?? style.symbol('—', '-')),
      r.threshold ?? '',
      r.verdict === 'fail' ? style.paint('red', 'FAIL') : style.paint('green', 'pass'),
      r.at.slice(11, 19),
      `${r.step}%`,
    ]);
    out.push(
      '',
      `Gate readings (latest of ${s.readings.length}):`,
      renderTable(style, ['gate', 'kind', 'reading', 'threshold', 'verdict', 'at (UTC)', 'step'], gates, {
        wordWrap: true,
      }),
    );
    const failed = s.readings.filter((r) => r.verdict === 'fail');
    for (const r of failed.slice(-3))
      out.push(
        `  failed: ${r.gate} read ${r.value ?? 'nothing'} at ${r.at} (${r.step}% green)${r.detail ? ` — ${r.detail}` : ''}`,
      );
  }
  const op = s.operator;
  if (op && s.state === 'needs-operator') {
    out.push(
      '',
      style.paint('red', `NEEDS AN OPERATOR since ${op.since}: "${op.failedStep}" failed: ${op.error}`),
      `  done (stays done): ${op.done.join('; ') || 'nothing'}`,
      `  not done: ${op.notDone.join('; ') || 'nothing'}`,
      `  try the step again: npm run runbook -- retry ${s.workflowId} --by <your name>   (signal "retryStep" ${JSON.stringify(op.how.retryExample)})`,
      `  or stop here:       npm run runbook -- abandon ${s.workflowId} --by <your name> --reason <why>   (signal "abandon")`,
    );
  }
  if (s.plan?.length && s.dryRun) {
    out.push('', 'Planned changes (dry run, nothing changed):');
    for (const p of s.plan) out.push(`  - ${p.step}: ${p.action} ${JSON.stringify(p.params)}`);
  }
  if (s.approvals?.length || s.signals?.length) {
    // Approvals and the other operator signals, in the order they arrived: a signal gets no answer, so this is where
    // its sender sees whether it counted.
    out.push('', 'Decisions:');
    for (const d of decisionsOf(s)) {
      out.push(
        `  ${d.at}  ${d.what} by ${d.by}${d.verified ? ` (verified ${d.verified.arn})` : ''} via ${d.via}` +
          `${d.verified ? ', signed' : ''}: ${d.accepted ? 'accepted' : `refused (${d.refusal})`}` +
          (d.comment ? ` — "${d.comment}"` : '') +
          (d.reason ? ` — reason: ${d.reason}` : ''),
      );
    }
  }
  if (s.compensations?.length) {
    out.push('', 'Compensations:');
    for (const c of s.compensations)
      out.push(`  ${c.endedAt}  ${c.name}: ${c.outcome}${c.error ? ` (${c.error})` : ''}`);
  }
  return out.join('\n');
}

function summarize(details: Record<string, unknown> | undefined): string {
  if (!details) return '';
  return Object.entries(details)
    .filter(([, v]) => v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
    .slice(0, 240);
}
