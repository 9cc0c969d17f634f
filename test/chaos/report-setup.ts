// `npm run chaos`: rows are collected while the scenarios run; at the end they become docs/reliability.md.
import { readRows, resetRows, writeReliabilityDoc } from './results';

export default function setup(): () => Promise<void> {
  resetRows();
  const started = new Date();
  return async () => {
    const rows = readRows();
    if (rows.length > 0) await writeReliabilityDoc(rows, started, Date.now() - started.getTime());
  };
}
