// AWS faults the emulator cannot produce, injected by a proxy in front of it: a throttled call is retried (by the
// SDK, then by Temporal's retry policy) until it succeeds; a permission error fails the run at once, clearly.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import type { RunbookReport } from '../../api/status';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { accessDenied, startFaultProxy, withFaultyWorker, withInterceptingWorker } from '../helpers/proxies/aws-proxy';
import { activityAttempts } from '../helpers/history';
import { closeConnections, expectFailure, testClients, uid, withWorker } from '../helpers/temporal';

afterAll(closeConnections);

describe('AWS faults', () => {
  it('a throttled UpdateService is retried until it goes through; the service ends at the new count', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    // 5 throttles: more than the SDK's own 3 attempts, so Temporal's activity retry has to step in too.
    const proxy = await startFaultProxy(inject('awsEndpoint'), [
      { operation: 'UpdateService', times: 5, status: 400, errorType: 'ThrottlingException', message: 'Rate exceeded' },
    ]);
    const throttled = createAwsClients({ endpoint: proxy.endpoint });
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const handle = await client.workflow.start('emergencyScale', {
            taskQueue,
            workflowId: uid('throttle'),
            args: [{ ...svc.ref, desiredCount: 5, reason: 'throttling test' }],
          });
          const report = (await handle.result()) as RunbookReport;
          expect(report.outcome).toBe('succeeded');
          const attempts = await activityAttempts(handle);
          expect(Math.max(...attempts)).toBeGreaterThan(1); // a Temporal-level retry happened
        },
        { activities: () => createActivities({ aws: throttled }) },
      );
      expect(proxy.calls.get('UpdateService')).toEqual({ faulted: 5, passed: 1 });
      expect((await serviceState(aws, svc)).desiredCount).toBe(5);
    } finally {
      throttled.destroy();
      await proxy.close();
    }
  });

  it('AccessDenied on UpdateService fails the run without retrying, naming the cause; nothing changed', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    const calls = await withFaultyWorker(
      [accessDenied('UpdateService', 'ecs:UpdateService')],
      async ({ client, taskQueue }) => {
        const workflowId = uid('denied');
        await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, desiredCount: 5, reason: 'permission test' }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe('AccessDeniedException');
        expect(failure.message).toContain('is not authorized to perform: ecs:UpdateService');
        expect(failure.message).toContain('Nothing was changed');
      },
    );
    expect(calls.get('UpdateService')).toEqual({ faulted: 1, passed: 0 });
    expect((await serviceState(aws, svc)).desiredCount).toBe(2);
  });

  it('a throttling burst during a wait is ridden out inside the wait: no failed attempt, the run completes', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    // Once the service is scaled, 5 DescribeServices in a row are throttled: more than the SDK's own 3 attempts, so
    // the wait's poll sees the error itself.
    let scaled = false;
    let throttles = 0;
    await withInterceptingWorker(
      (call) => {
        if (call.operation === 'UpdateService') scaled = true;
        if (call.operation !== 'DescribeServices' || !scaled || throttles >= 5) return undefined;
        throttles++;
        return {
          answer: {
            status: 400,
            headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' },
            body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
          },
        };
      },
      async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId: uid('throttle-wait'),
          args: [{ ...svc.ref, desiredCount: 4, reason: 'throttled wait', stableTimeout: '1m' }],
        });
        const report = (await handle.result()) as RunbookReport;
        expect(report.outcome).toBe('succeeded');
        expect(report.timeline.find((s) => s.name === 'Wait until the service is stable')?.outcome).toBe('succeeded');
        // The wait activity ran once: the throttled polls were retried inside it, not by failing it.
        const waitAttempts = await activityAttempts(handle, 'waitForServiceStable');
        expect(waitAttempts).toEqual([1]);
      },
    );
    expect(throttles).toBe(5);
    expect((await serviceState(aws, svc)).desiredCount).toBe(4);
  });
});
