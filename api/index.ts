// The contract shared by workflows, client and tests. Imports only zod, @temporalio/workflow definitions and types.
export * from './common';
export * from './definitions';
export * from './duration';
export * from './failures';
export * from './status';
export * from './search-attributes';
export * from './runbooks/ecs';
export * from './runbooks/ecs-rollback';
export * from './runbooks/ecs-deploy';
export * from './runbooks/emergency-scale';
export * from './runbooks/dns-failover';
export * from './runbooks/regional-failover';
export * from './runbooks/blue-green';
export * from './runbooks/restore';
export * from './runbooks/rds-reboot';
export * from './runbooks/index';
