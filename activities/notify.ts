// Chat notifications: a Slack-compatible incoming webhook (RUNBOOKS_SLACK_WEBHOOK_URL; off when unset). A notifier
// failure never fails a runbook: this activity reports what happened instead of throwing, and logs it (a warning
// with the event, the HTTP status or error and the run's workflowId/runId/runbook, worker/logging.ts).
import { activityContext } from './poll';

export interface NotifierConfig {
  webhookUrl?: string;
  /** Base URL of the Temporal Web UI for links (e.g. http://127.0.0.1:8233). */
  uiBaseUrl?: string;
  namespace?: string;
}

export interface Notification {
  /** What happened, e.g. approval-requested, approval-decided, needs-operator, failed, finished. */
  event: string;
  workflowId: string;
  text: string;
}

export function createNotifyActivities(config: NotifierConfig = {}, fetchImpl: typeof fetch = fetch) {
  return {
    async notify(n: Notification): Promise<{ sent: boolean; status?: number; error?: string }> {
      if (!config.webhookUrl) return { sent: false, error: 'no webhook configured' };
      const link = config.uiBaseUrl
        ? `${config.uiBaseUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.namespace ?? 'default')}/workflows/${encodeURIComponent(n.workflowId)}`
        : undefined;
      const text = link ? `${n.text}\nUI: ${link}` : n.text;
      try {
        const res = await fetchImpl(config.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel();
        if (!res.ok) warnNotSent(n, { status: res.status, error: `webhook answered ${res.status}` });
        return res.ok
          ? { sent: true, status: res.status }
          : { sent: false, status: res.status, error: `webhook answered ${res.status}` };
      } catch (err) {
        warnNotSent(n, { error: (err as Error).message });
        return { sent: false, error: (err as Error).message };
      }
    },
  };
}

/** The activity logger's warning for a message that did not go out (nothing to log to outside an activity). */
function warnNotSent(n: Notification, why: { status?: number; error: string }): void {
  activityContext()?.log.warn(`chat notification not sent: ${why.error}`, { event: n.event, ...why });
}
