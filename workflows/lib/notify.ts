// Chat notifications from workflow code: one message per event, never repeated, and a notifier failure never fails
// the runbook. Added after the first histories were recorded, so it is behind patched(): runs that started before
// it (and their recorded histories) replay without it.
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities, NotifyActivity } from '../../activities';

/** A notification is worth one retry, never more, and never the run. */
const chat = proxyActivities<Pick<Activities, NotifyActivity>>({
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 2 },
});

export class Notifier {
  private on: boolean;
  private readonly sent = new Set<string>();
  /** Messages go out one after the other, so they arrive in the order the events happened. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly workflowId: string) {
    this.on = patched('chat-notifications-v1');
  }

  /** The worker sends no chat messages (no webhook): schedule none. */
  disable(): void {
    this.on = false;
  }

  get enabled(): boolean {
    return this.on;
  }

  /** Send once per `key` (an event that repeats, e.g. a reminder, is sent at most once). */
  send(event: string, key: string, text: string): void {
    if (!this.on || this.sent.has(key)) return;
    this.sent.add(key);
    this.chain = this.chain.then(() =>
      chat.notify({ event, workflowId: this.workflowId, text }).catch(() => undefined),
    );
  }

  /** Wait for messages in flight (before the run ends, so none is dropped). */
  async flush(): Promise<void> {
    await this.chain;
  }
}
