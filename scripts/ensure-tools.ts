// Makes sure the tools the stack and the tests need are here before anything starts: the Temporal CLI (built once
// per machine into the per-user cache if missing — minutes the first time) and moto (pip-installed if missing).
// Runs before `npm test` (pretest) and in .ci/run.
import { motoCommand } from './lib/stack';
import { obtainTemporalCli, temporalVersion } from './lib/temporal-cli';

async function main(): Promise<void> {
  const temporal = await obtainTemporalCli((line) => console.log(line));
  console.log(`Temporal CLI: ${temporal} (${temporalVersion(temporal).split('\n')[0]})`);
  const moto = motoCommand((line) => console.log(line));
  console.log(`AWS emulator: ${moto.command} ${moto.args.join(' ')}`);
}

main().catch((err: unknown) => {
  console.error(`could not prepare the tools: ${(err as Error).message}`);
  process.exit(1);
});
