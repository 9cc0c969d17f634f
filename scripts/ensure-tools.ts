// Makes sure the tools the stack and the tests need are here before anything starts: the Temporal CLI (built once
// per machine into the per-user cache if missing — minutes the first time) and moto (pip-installed if missing).
// Runs before `npm test` (pretest) and in .ci/run.
import { existsSync } from 'node:fs';
import { aptInstall, canAptInstall } from './lib/apt';
import { kubeValidateCommand } from './lib/kube-validate';
import { postgresBinDir } from './lib/postgres';
import { ensurePrometheus } from './lib/prometheus';
import { motoCommand } from './lib/stack';
import { obtainTemporalCli, temporalVersion } from './lib/temporal-cli';

async function main(): Promise<void> {
  const temporal = await obtainTemporalCli((line) => console.log(line));
  console.log(`Temporal CLI: ${temporal} (${temporalVersion(temporal).split('\n')[0]})`);
  const moto = motoCommand((line) => console.log(line));
  console.log(`AWS emulator: ${moto.command} ${moto.args.join(' ')}`);
  let pg = postgresBinDir();
  if (!pg && canAptInstall()) {
    console.log("PostgreSQL server not found: installing Debian's postgresql package …");
    aptInstall(['postgresql']);
    pg = postgresBinDir();
  }
  if (!pg)
    throw new Error('PostgreSQL server binaries not found; install them (apt-get install postgresql) or set PG_BIN');
  console.log(`PostgreSQL: ${pg}`);
  // The browser test drives the real Temporal Web UI with Debian's Chromium (no browser downloads work here).
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(chromium) && canAptInstall()) {
    console.log("Chromium not found: installing Debian's chromium package (for the browser test) …");
    aptInstall(['chromium']);
  }
  console.log(
    `Chromium: ${existsSync(chromium) ? chromium : 'not installed (the browser test will fail: apt-get install chromium)'}`,
  );
  // The metrics tests scrape the worker with a real Prometheus and check the alert rules with promtool.
  const prom = ensurePrometheus((line) => console.log(line));
  console.log(
    `Prometheus: ${prom.prometheus && prom.promtool ? `${prom.prometheus}, ${prom.promtool}` : 'not installed (the metrics tests will fail: apt-get install prometheus)'}`,
  );
  // The Kubernetes manifests' schema check (test/unit/deploy-manifests.test.ts): kubernetes-validate from PyPI.
  console.log(`Kubernetes schemas: ${kubeValidateCommand((line) => console.log(line))}`);
}

main().catch((err: unknown) => {
  console.error(`could not prepare the tools: ${(err as Error).message}`);
  process.exit(1);
});
