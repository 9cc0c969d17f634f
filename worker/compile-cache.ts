// Imported first by worker/main.ts: Node's on-disk compile cache (V8 code cache, in os.tmpdir() or
// NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off) for every module the worker loads after this one.
// A restart on the same host then skips compiling the ~9 MB of JavaScript it loads (the Temporal SDK, the AWS SDK
// clients, zod), a fifth of the prebuilt start's CPU (bench P5). Nothing else changes: the cache is keyed by each
// file's contents, and a cache that cannot be written is simply not used.
import { enableCompileCache } from 'node:module';

enableCompileCache();
