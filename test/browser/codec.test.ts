// Encrypted payloads end to end (docs/encryption.md): with RUNBOOKS_CODEC_KEYS set, a run started and rejected
// through the operator CLI, on a worker built with workerExtras() as the production worker is, leaves no clear text
// of its secret-like fields in the server's history — input, summary, signals, the failure message — while the CLI
// reads them back, the `temporal` CLI shows them through the codec server, and the Temporal Web UI, pointed at the
// codec server with `--ui-codec-endpoint` as a team would run it, shows the input decoded.
//
// The shared test stack's dev server has no codec endpoint, so this file starts its own (in memory, with its UI).
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { SEARCH_ATTRIBUTES } from '../../api/search-attributes';
import { run } from '../../client/cli';
import { startCodecServer, type CodecServer } from '../../scripts/codec-server';
import { freePort, httpOk, portOpen, startProcess, waitFor, type Managed } from '../../scripts/lib/processes';
import { repoRoot } from '../../scripts/lib/stack';
import { obtainTemporalCli } from '../../scripts/lib/temporal-cli';
import { EncryptionCodec, codecDataConverter } from '../../worker/codec';
import { WORKER_DEFAULTS } from '../../worker/config';
import { workerExtras } from '../../worker/extras';
import { makeService } from '../helpers/env/aws-fixtures';
import { expectFailure, uid, waitForStatus } from '../helpers/temporal';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = path.resolve(__dirname, '../../test-results/browser');
/** What must never be stored in clear: it goes into the input's reason and the rejection's reason. */
const MARKER = `CANARY-${randomUUID().slice(0, 8)}`;

let server: Managed | undefined;
let address = '';
let ui = '';
let codecServer: CodecServer | undefined;
let browser: BrowserContext | undefined;
let scratch = '';
const decodeCalls: number[] = [];
const savedKeys = process.env.RUNBOOKS_CODEC_KEYS;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') }); // the worker's progress lines are noise here
  // Two keys, the newer first: what a rotation leaves (the old one only decrypts).
  const key = () => randomBytes(32).toString('base64');
  process.env.RUNBOOKS_CODEC_KEYS = `k2:${key()},k1:${key()}`;
  const codec = EncryptionCodec.fromEnv()!;
  scratch = mkdtempSync(path.join(os.tmpdir(), 'runbooks-codec-'));
  const [port, uiPort] = [await freePort(), await freePort()];
  ui = `http://127.0.0.1:${uiPort}`;
  // The codec server the UI calls from its page, counting what it is asked to decode.
  const counting: PayloadCodec = {
    encode: (p) => codec.encode(p),
    decode: (p) => {
      decodeCalls.push(p.length);
      return codec.decode(p);
    },
  };
  codecServer = await startCodecServer({ codec: counting, port: 0, corsOrigins: [ui] });

  const bin = await obtainTemporalCli(() => undefined);
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)];
  args.push('--ui-codec-endpoint', codecServer.url, '--log-level', 'error');
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  server = startProcess(`temporal-codec-${port}`, bin, args, {
    logDir: path.join(repoRoot, 'test-results', 'logs'),
    graceMs: 5_000,
  });
  address = `127.0.0.1:${port}`;
  const launching = chromium.launchPersistentContext(path.join(scratch, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
    timeout: 15_000,
  });
  await waitFor('Temporal dev server', () => portOpen(port), 60_000, server);
  await waitFor('Temporal Web UI', () => httpOk(ui), 60_000, server);
  browser = await launching;
  browser.setDefaultTimeout(20_000);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await codecServer?.close();
  await server?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  if (savedKeys === undefined) delete process.env.RUNBOOKS_CODEC_KEYS;
  else process.env.RUNBOOKS_CODEC_KEYS = savedKeys;
});

/** The operator CLI in-process against this file's server (with the codec: RUNBOOKS_CODEC_KEYS is set). */
async function runbook(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = address;
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    const code = await run(['node', 'runbook', ...args]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    process.env.TEMPORAL_ADDRESS = saved;
  }
}

/**
 * `temporal workflow show --output json` as a person runs it (with `codecEndpoint`, through the codec server), and
 * the payloads in it made readable: the JSON output carries each payload's data in base64. Asynchronous: the codec
 * server answers from this process's event loop.
 */
async function temporalShow(bin: string, workflowId: string, codecEndpoint?: string): Promise<string> {
  const args = ['workflow', 'show', '--address', address, '-w', workflowId, '--output', 'json'];
  if (codecEndpoint) args.push('--codec-endpoint', codecEndpoint);
  const { stdout } = await promisify(execFile)(bin, args, { timeout: 20_000, killSignal: 'SIGKILL' });
  const data = [...stdout.matchAll(/"data": "([A-Za-z0-9+/=]*)"/g)].map((m) => Buffer.from(m[1]!, 'base64'));
  return [stdout, ...data.map((d) => d.toString('utf8'))].join('\n');
}

describe('encrypted payloads (RUNBOOKS_CODEC_KEYS)', () => {
  it('keeps a run’s reason out of the stored history; CLI, temporal CLI and Web UI show it decoded', async () => {
    const connection = await Connection.connect({ address });
    const native = await NativeConnection.connect({ address });
    const aws = createAwsClients();
    // What the server stores, read without the codec; and what a person with the keys reads.
    const raw = new Client({ connection });
    const decoding = new Client({ connection, dataConverter: codecDataConverter()! });
    const taskQueue = uid('tq-codec');
    const workflowId = uid('codec');
    try {
      const svc = await makeService(aws, { desiredCount: 2 });
      // The worker as worker/main.ts builds it: workerExtras() brings the codec, and bundling at start puts the
      // failure converter into the workflow bundle.
      const worker = await Worker.create({
        connection: native,
        taskQueue,
        workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'),
        activities: createActivities({ aws, temporal: decoding }),
        shutdownGraceTime: '2s',
        ...workerExtras({ bundling: true }),
        ...WORKER_DEFAULTS,
      });
      await worker.runUntil(async () => {
        const inputFile = path.join(scratch, 'input.json');
        const input = {
          ...svc.ref,
          desiredCount: 4,
          reason: `${MARKER}: scale for the db-7.internal incident`,
          initiatedBy: 'alice',
          approval: { required: true, timeout: '5m' },
        };
        writeFileSync(inputFile, JSON.stringify(input));
        const started = await runbook(
          'start',
          'emergencyScale',
          '-i',
          inputFile,
          '--task-queue',
          taskQueue,
          '--workflow-id',
          workflowId,
        );
        expect(started, started.err).toMatchObject({ code: 0 });
        await waitForStatus(decoding, workflowId, (s) => s.state === 'awaiting-approval');
        const rejected = await runbook('reject', workflowId, '--by', 'bob', '--reason', `${MARKER} is not safe now`);
        expect(rejected, rejected.err).toMatchObject({ code: 0 });
        // With the keys, the failure reads as it was written.
        const failure = await expectFailure(decoding, workflowId);
        expect(failure.message).toContain(`rejected by bob: ${MARKER} is not safe now`);
      });

      // The stored history, every byte of it, as the server holds it: no marker anywhere.
      const history = await raw.workflow.getHandle(workflowId).fetchHistory();
      const stored = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
      expect(stored.includes(MARKER)).toBe(false);
      expect(stored.includes('db-7.internal')).toBe(false);
      const events = history.events ?? [];
      const started = events[0]!.workflowExecutionStartedEventAttributes!;
      const encodings = [started.input!.payloads![0]!, events[0]!.userMetadata!.summary!].map((p) =>
        Buffer.from(p.metadata!.encoding!).toString(),
      );
      expect(encodings).toEqual(['binary/encrypted', 'binary/encrypted']);
      const failed = events.find((e) => e.workflowExecutionFailedEventAttributes)!;
      expect(failed.workflowExecutionFailedEventAttributes!.failure!.message).toBe('Encoded failure');
      // The resource lock the run held is a child workflow with a history of its own: the same holds there.
      const lockId = events.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)!
        .startChildWorkflowExecutionInitiatedEventAttributes!.workflowId!;
      const lockHistory = await raw.workflow.getHandle(lockId).fetchHistory();
      const lockStored = Buffer.from(temporal.api.history.v1.History.encode(lockHistory).finish());
      expect(lockStored.includes(MARKER)).toBe(false);
      expect(lockHistory.events?.length).toBeGreaterThan(1);
      // The same, as the `temporal` CLI shows it: clear only through the codec server.
      const bin = await obtainTemporalCli(() => undefined);
      expect(await temporalShow(bin, workflowId)).not.toContain(MARKER);
      expect(await temporalShow(bin, workflowId, codecServer!.url)).toContain(MARKER);

      // The Web UI, configured with --ui-codec-endpoint: the page decodes through the codec server and shows the
      // input in clear.
      decodeCalls.length = 0;
      const page = await browser!.newPage();
      try {
        await page.goto(`${ui}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
        await expect
          .poll(() => page.locator('body').innerText(), { timeout: 30_000, interval: 500 })
          .toContain(MARKER)
          .catch(async (err: unknown) => {
            mkdirSync(SHOTS, { recursive: true });
            await page.screenshot({ path: path.join(SHOTS, 'codec-FAILED.png'), fullPage: true });
            writeFileSync(path.join(SHOTS, 'codec-FAILED.html'), await page.content());
            throw err;
          });
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SHOTS, 'codec-decoded.png'), fullPage: true });
      } finally {
        await page.close();
      }
      expect(decodeCalls.length).toBeGreaterThan(0);
    } finally {
      aws.destroy();
      await connection.close();
      await native.close();
    }
  }, 120_000);
});
