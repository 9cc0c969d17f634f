// Every workflow the worker runs (its workflowsPath).
export { ecsRollback } from './ecsRollback';
export { emergencyScale } from './emergencyScale';
export { dnsFailover } from './dnsFailover';
export { resourceLock } from './lib/lock';
export { regionalFailover } from './regionalFailover';
export { regionalFailback } from './regionalFailback';
export { blueGreenDeploy } from './blueGreenDeploy';
export { snapshotRestore } from './snapshotRestore';
export { backupVerification, verifyBackup } from './backupVerification';
export { verifyPgDump } from './verifyPgDump';
export { ecsDeploy } from './ecsDeploy';
export { ecsRestart } from './ecsRestart';
export { triage } from './triage';
export { auroraFailover } from './auroraFailover';
export { rdsRebootFailover } from './rdsRebootFailover';
