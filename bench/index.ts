// Every benchmark, in the order the report lists them.
import type { Benchmark } from './lib/types';
import { p1 } from './p1-failover';
import { p2 } from './p2-approval';
import { p3 } from './p3-readiness';
import { p4 } from './p4-fanout';
import { p5 } from './p5-worker-start';
import { p6 } from './p6-many-runs';

export const BENCHMARKS: Benchmark[] = [p1, p2, p3, p4, p5, p6];
