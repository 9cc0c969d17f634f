// Temporal client from @temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS settings
// and TOML profiles (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) — the same settings reach a dev server or Temporal Cloud.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import net from 'node:net';
import { codecDataConverter } from '../worker/codec';
import { clientTracingInterceptors, flushTracing } from '../worker/tracing';
import { UserError } from './errors';

export interface Connected {
  client: Client;
  namespace: string;
  address: string;
  close(): Promise<void>;
}

export async function connect(): Promise<Connected> {
  const { connectionOptions, namespace = 'default' } = loadClientConnectConfig();
  // RUNBOOKS_CODEC_KEYS: the same payload codec as the worker's (docs/encryption.md), so the CLI writes encrypted
  // inputs and signals and reads results, statuses and failure messages back in clear. Bad keys stop here.
  const dataConverter = clientDataConverter();
  // OTEL_EXPORTER_OTLP_ENDPOINT: the start, signals and queries are traced and the run joins the same trace
  // (worker/tracing.ts); unset, no interceptor. A bad endpoint stops here too.
  const tracing = clientTracing();
  const address = connectionOptions.address ?? 'localhost:7233';
  // A server that is down answers a TCP connect at once (refused) — say so now, not after gRPC's reconnect
  // backoff; a server that is up gets the full deadline for TLS and the first call (Temporal Cloud far away).
  await assertReachable(address, 1_500);
  const connection = await Connection.connect({
    ...(connectionOptions as Parameters<typeof Connection.connect>[0]),
    connectTimeout: '10s',
  });
  const client = new Client({
    connection,
    namespace,
    ...(dataConverter ? { dataConverter } : {}),
    ...(tracing.length ? { interceptors: { workflow: tracing } } : {}),
  });
  const close = async () => {
    await connection.close();
    // The CLI exits right after: its spans leave now or never.
    await flushTracing();
  };
  return { client, namespace, address, close };
}

function clientTracing() {
  try {
    return clientTracingInterceptors();
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err));
  }
}

function clientDataConverter() {
  try {
    return codecDataConverter();
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err));
  }
}

/** Connects, runs `use` with the connection and closes it again, also when `use` throws. */
export async function withConnection<T>(use: (conn: Connected) => Promise<T>): Promise<T> {
  const conn = await connect();
  try {
    return await use(conn);
  } finally {
    await conn.close();
  }
}

/** Link to a run in the Web UI: TEMPORAL_UI_URL, Temporal Cloud's UI for cloud addresses, else the dev server's. */
export function uiLink(c: Pick<Connected, 'namespace' | 'address'>, workflowId: string, runId?: string): string {
  const base =
    process.env.TEMPORAL_UI_URL ??
    (c.address.includes('tmprl.cloud')
      ? 'https://cloud.temporal.io'
      : `http://${c.address.split(':')[0] ?? 'localhost'}:8233`);
  return `${base.replace(/\/$/, '')}/namespaces/${encodeURIComponent(c.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}`;
}

/** TCP connect to host:port within `timeoutMs`, or a UserError saying Temporal cannot be reached. */
export async function assertReachable(address: string, timeoutMs: number): Promise<void> {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) return; // not host:port (e.g. a unix socket): leave it to the client
  const [, host, port] = m;
  const problem = await new Promise<string | undefined>((resolve) => {
    const socket = net.connect({ host: host!, port: Number(port) });
    const done = (why?: string) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs / 1000}s`));
    socket.once('connect', () => done());
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
  if (problem) {
    throw new UserError(
      `cannot reach Temporal at ${address} (${problem}); is the stack up (npm run dev) or TEMPORAL_ADDRESS set?`,
    );
  }
}
