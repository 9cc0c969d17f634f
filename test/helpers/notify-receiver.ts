// A local HTTP receiver standing in for a Slack incoming webhook: it records the text of every message a run sends.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNotifyActivities } from '../../activities/notify';
import type { createActivities } from '../../activities';

export interface Receiver {
  url: string;
  messages: string[];
  status: number;
  close(): Promise<void>;
}

export function startReceiver(): Promise<Receiver> {
  const r = { messages: [] as string[], status: 200 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      r.messages.push((JSON.parse(body) as { text: string }).text);
      res.writeHead(r.status);
      res.end(r.status === 200 ? 'ok' : 'nope');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(
        Object.assign(r, {
          url: `http://127.0.0.1:${port}/hook`,
          close: () => new Promise<void>((done) => server.close(() => done())),
        }),
      );
    }),
  );
}

/** The real activities, with notifications going to `url`. */
export const notifyingTo = (url: string) => (real: ReturnType<typeof createActivities>) => ({
  ...real,
  ...createNotifyActivities({ webhookUrl: url, uiBaseUrl: 'http://ui.example', namespace: 'default' }),
  // A worker with a webhook tells its runs so (they schedule no notification otherwise).
  organisationPolicy: async (i: { runbook: string }) => ({ ...(await real.organisationPolicy(i)), chat: true }),
});
