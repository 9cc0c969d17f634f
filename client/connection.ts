// Temporal client from @temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS settings
// and TOML profiles (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) — the same settings reach a dev server or Temporal Cloud.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

export interface Connected {
  client: Client;
  namespace: string;
  address: string;
  close(): Promise<void>;
}

export async function connect(): Promise<Connected> {
  const { connectionOptions, namespace = 'default' } = loadClientConnectConfig();
  const address = connectionOptions.address ?? 'localhost:7233';
  const connection = await Connection.connect({
    ...(connectionOptions as Parameters<typeof Connection.connect>[0]),
    connectTimeout: '5s',
  });
  return { client: new Client({ connection, namespace }), namespace, address, close: () => connection.close() };
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
