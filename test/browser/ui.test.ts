// The Temporal Web UI as a client of the runbooks, driven in a real browser (Debian's Chromium through
// playwright-core) against the dev server UI that the test setup starts: start a run from the UI's Start Workflow
// form, read its approval prompt in the run's Current Details, approve it through the Signal dialog, and see the
// change in the AWS emulator; a bad input typed into the form fails the run with the field named.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunbookReport } from '../../api/status';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { closeConnections, uid, waitForStatus, withWorker } from '../helpers/temporal';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = path.resolve(__dirname, '../../test-results/browser');
const NAMESPACE = 'default';
/** Bound for one UI step (a page load, a dialog, a toast); the whole file stays well under 90 s. */
const STEP_MS = 15_000;

let browser: BrowserContext | undefined;
let profileDir: string | undefined;
let ui = '';

beforeAll(async () => {
  ui = inject('temporalUiUrl');
  if (!ui) {
    throw new Error(
      'the browser test needs the Temporal Web UI: the test setup started the dev server headless, or ' +
        'TEST_TEMPORAL_ADDRESS was set without TEST_TEMPORAL_UI_URL',
    );
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the browser test drives the Temporal Web UI with a real Chromium. ` +
        'Install it (apt-get install chromium; `npm test` does this when run as root via scripts/ensure-tools.ts) ' +
        'or set CHROMIUM_PATH to a Chromium/Chrome binary. Playwright browser downloads are not used.',
    );
  }
  mkdirSync(SHOTS, { recursive: true });
  for (const f of readdirSync(SHOTS)) if (f.includes('-FAILED.')) rmSync(path.join(SHOTS, f)); // stale post-mortems
  profileDir = mkdtempSync(path.join(os.tmpdir(), 'runbooks-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 1000 },
    timeout: 15_000,
  });
  browser.setDefaultTimeout(STEP_MS);
  browser.setDefaultNavigationTimeout(STEP_MS);
}, 20_000);

afterAll(async () => {
  await browser?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  await closeConnections();
});

/** A fresh tab; on failure of `fn`, a screenshot and the page's HTML are kept for the post-mortem. */
async function withPage<T>(name: string, fn: (page: Page) => Promise<T>): Promise<T> {
  const page = await browser!.newPage();
  try {
    return await fn(page);
  } catch (err) {
    await snapshot(page, `${name}-FAILED`, { html: true }).catch(() => undefined);
    throw err;
  } finally {
    await page.close();
  }
}

async function snapshot(page: Page, name: string, opts: { html?: boolean } = {}): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  if (opts.html) writeFileSync(path.join(SHOTS, `${name}.html`), await page.content());
}

/**
 * Replace the text of a CodeMirror editor (the UI's JSON inputs): focus it, select all, type the new text as one
 * insertion (one input event, so the editor's bracket auto-closing does not interfere), then read it back.
 */
async function typeIntoEditor(page: Page, editor: Locator, text: string): Promise<void> {
  const content = editor.locator('.cm-content');
  await content.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText(text);
  await expect
    .poll(async () => JSON.parse((await content.innerText()).trim() || 'null') as unknown, { timeout: 5_000 })
    .toEqual(JSON.parse(text));
}

/** Until the server has seen our worker poll the queue (the form's "Task Queue is Active" check asks once). */
async function waitForPoller(client: Client, taskQueue: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const tq = await client.workflowService.describeTaskQueue({
          namespace: NAMESPACE,
          taskQueue: { name: taskQueue },
          taskQueueType: 1, // workflow
        });
        return tq.pollers?.length ?? 0;
      },
      { timeout: STEP_MS, interval: 200 },
    )
    .toBeGreaterThan(0);
}

/**
 * Start a workflow through the UI's Start Workflow form; returns the run's page path from the success toast.
 * The task-queue check (the UI asks the server for the queue's pollers once the field loses focus) must have
 * answered before the button is clicked, otherwise its banner shifts the form under the click.
 */
async function startFromForm(
  page: Page,
  client: Client,
  name: string,
  form: { workflowId: string; taskQueue: string; workflowType: string; input: string },
): Promise<string> {
  await waitForPoller(client, form.taskQueue);
  await page.goto(`${ui}/namespaces/${NAMESPACE}/workflows/start-workflow`);
  await page.getByRole('heading', { name: 'Start a Workflow' }).waitFor();
  await page.locator('#workflowId').fill(form.workflowId);
  await page.locator('#taskQueue').fill(form.taskQueue);
  await page.locator('#workflowType').fill(form.workflowType); // blurs the task queue: the UI checks for workers
  await page.getByText('Task Queue is Active').waitFor(); // our worker polls it
  await typeIntoEditor(page, page.locator('.cm-editor').first(), form.input);
  await snapshot(page, `${name}-1-form`);

  const start = page.getByTestId('start-workflow-button');
  await expect.poll(() => start.isEnabled(), { timeout: 5_000 }).toBe(true);
  await start.click();
  const toast = page.getByRole('link', { name: 'Workflow started successfully' });
  await toast.waitFor();
  const href = await toast.getAttribute('href');
  expect(href).toMatch(new RegExp(`/namespaces/${NAMESPACE}/workflows/${form.workflowId}/[0-9a-f-]+/history`));
  return href!;
}

/**
 * Pick the signal in the Signal dialog: the UI lists the names the workflow reports through its metadata query
 * (a select) when the worker answered it, else offers a free-text name field. Returns which one was used.
 */
async function chooseSignal(page: Page, dialog: Locator, name: string): Promise<'select' | 'text field'> {
  const select = dialog.getByTestId('signal-select-button');
  const text = dialog.locator('#signal-name');
  await select.or(text).first().waitFor();
  if (await text.isVisible()) {
    await text.fill(name);
    return 'text field';
  }
  await select.click();
  // Each option reads "<name> <description>": the handler's description, which spells out the JSON to send.
  const option = dialog.getByRole('option', { name: new RegExp(`^\\s*${name}(\\s|$)`) });
  if (name === 'approve') await option.getByText('{"by": "<your name>"', { exact: false }).waitFor();
  await option.click();
  return 'select';
}

/** The run's failure message as the server has it (the fallback evidence next to the UI's). */
async function failureMessage(client: Client, workflowId: string): Promise<string> {
  try {
    await client.workflow.getHandle(workflowId).result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) return (err.cause as Error | undefined)?.message ?? err.message;
    throw err;
  }
  throw new Error(`${workflowId} completed but was expected to fail`);
}

describe('Temporal Web UI', () => {
  it('starts emergencyScale from the form, shows the approval prompt, approves via Signal, scales', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const workflowId = uid('ui-es');
      const input = {
        ...svc.ref,
        desiredCount: 5,
        reason: 'UI test: traffic spike',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '5m' },
      };

      await withPage('approve', async (page) => {
        const runPath = await startFromForm(page, client, 'approve', {
          workflowId,
          taskQueue,
          workflowType: 'emergencyScale',
          input: JSON.stringify(input, null, 2),
        });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', STEP_MS);
        expect((await serviceState(aws, svc)).desiredCount).toBe(2); // nothing changes before approval

        // The approval prompt: the run's Current Details (setCurrentDetails), on the run's User Metadata tab.
        await page.goto(`${ui}${runPath}`);
        await page.locator('#user-metadata-tab').click();
        await page.getByRole('heading', { name: 'Current Details' }).waitFor();
        // The UI renders the markdown in an iframe (/render?content=…).
        const details = page.frameLocator('iframe[title="output"]');
        await details.getByText('Waiting for approval').first().waitFor();
        await details.getByText(`scale ${svc.service} (${svc.region}/${svc.cluster}) from 2 to 5 tasks`).waitFor();
        await snapshot(page, 'approve-2-waiting');

        // Approve through More Actions → Send a Signal (the menu is rendered twice, one copy hidden).
        await page.getByRole('button', { name: 'More Actions' }).click();
        await page.getByRole('menuitem', { name: 'Send a Signal' }).filter({ visible: true }).click();
        const dialog = page.locator('dialog[open][data-testid="signal-confirmation-modal"]'); // the copy that opened
        await dialog.getByRole('heading', { name: 'Send a Signal' }).waitFor();
        await snapshot(page, 'approve-3-signal-dialog');
        const signalHow = await chooseSignal(page, dialog, 'approve');
        await typeIntoEditor(page, dialog.locator('.cm-editor'), JSON.stringify({ by: 'bob' }));
        await snapshot(page, 'approve-4-signal-filled');
        await dialog.getByTestId('confirm-modal-button').click();
        await page.getByText('Workflow signaled.').waitFor();
        console.log(`[browser] signal name chosen via ${signalHow}`);

        // It scales and completes: the run page says Completed; the emulator has the new count.
        await page.goto(`${ui}${runPath}`);
        // The run page does not refresh its status by itself: reload until it says Completed, giving each load
        // time to render (on a loaded machine a page read right after reload() is still blank).
        const completed = page.locator('header').getByText('Completed', { exact: true });
        await expect
          .poll(
            async () => {
              if (await completed.isVisible()) return true;
              await page.reload();
              return completed.waitFor({ timeout: 5_000 }).then(
                () => true,
                () => false,
              );
            },
            { timeout: 60_000, interval: 1_000 },
          )
          .toBe(true);
        await snapshot(page, 'approve-5-completed');
        expect((await serviceState(aws, svc)).desiredCount).toBe(5);
        const report = (await client.workflow.getHandle(workflowId).result()) as RunbookReport;
        expect(report.outcome).toBe('succeeded');
        expect(report.approvals.map((a) => [a.by, a.accepted])).toEqual([['bob', true]]);
      });
    });
  }, 120_000);

  it('a bad input typed into the form fails the run, naming the field', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const workflowId = uid('ui-es-bad');
      const input = { ...svc.ref, desiredCount: 'lots', reason: 'UI test: bad input', initiatedBy: 'alice' };

      await withPage('invalid', async (page) => {
        const runPath = await startFromForm(page, client, 'invalid', {
          workflowId,
          taskQueue,
          workflowType: 'emergencyScale',
          input: JSON.stringify(input, null, 2),
        });
        const message = await failureMessage(client, workflowId);
        expect(message).toContain('input.desiredCount');

        // The run page: status Failed, and the Result panel (a read-only JSON editor) carries the failure message.
        await page.goto(`${ui}${runPath}`);
        await page.locator('header').getByText('Failed', { exact: true }).waitFor();
        const result = page.locator('.cm-content').filter({ hasText: 'workflowExecutionFailedEventAttributes' });
        await expect
          .poll(() => result.innerText(), { timeout: 5_000 })
          .toMatch(/"message": "invalid input: input\.desiredCount: [^"]*Nothing was changed\."/);
        await snapshot(page, 'invalid-2-failed');
      });
      expect((await serviceState(aws, svc)).desiredCount).toBe(2);
    });
  }, 30_000);
});
