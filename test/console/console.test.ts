import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedSeamHttp } from '../gateway/seam-schema.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';
import { ARTIFACTS, type ConsoleWorld, openBrowser, startConsoleWorld } from './console-world.ts';

/**
 * The web console (gateway/console, docs/console.md) in a real Chromium against a real
 * `lockctl serve`, Mosquitto and two `lockfw run --hal sim` locks.
 */
let broker: TestBroker;
let world: ConsoleWorld;
let browser: BrowserContext;
beforeAll(async () => {
  broker = await TestBroker.start();
  world = await startConsoleWorld(broker, ['front-door', 'garden-gate']);
  browser = await openBrowser(tempDir('tumbler-console-browser-'));
}, 120_000);
afterAll(async () => {
  await broker.close();
});

const VIEW_WAIT = 20_000;

/** A new tab on the console; every request it makes (or is refused) for elsewhere than the gateway is recorded. */
async function openConsole(): Promise<{ page: Page; foreign: string[]; failures: string[] }> {
  const page = await browser.newPage();
  const foreign: string[] = [];
  const failures: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${world.endpoint}/`) && !url.startsWith('data:')) foreign.push(url);
  });
  page.on('pageerror', (error) => failures.push(error.message));
  // The page's policy blocks a request for elsewhere before it is made: the browser says so.
  page.on('console', (message) => {
    if (/Content Security Policy/.test(message.text())) foreign.push(message.text());
  });
  await page.goto(`${world.endpoint}/console/`);
  return { page, foreign, failures };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** The online label of the lock's row in the device table. */
const deviceRow = (page: Page, name: string) =>
  page.locator('.seam-device-table .seam-table-row').filter({ hasText: name });

async function signInWithPublishableKey(page: Page, key: string, user: string) {
  await page.getByRole('tab', { name: 'Publishable key' }).click();
  await page.getByLabel('Publishable key').fill(key);
  await page.getByLabel('User identifier').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the web console', () => {
  it('refuses a wrong key with a clear line, and opens with an API key typed once', async () => {
    const { page, foreign } = await openConsole();
    await signInWithPublishableKey(page, `seam_pk_00000000_${'A'.repeat(43)}`, 'front desk');
    const refusal = page.getByRole('alert');
    await refusal.waitFor({ timeout: VIEW_WAIT });
    expect(await refusal.textContent()).toBe(
      'The gateway refused this key (401): it is not a key it issued, or it was revoked. Make one with lockctl api-key create.',
    );
    await shot(page, 'sign-in-refused');

    // A wrong API key: refused the same way; not a key at all: said so.
    await page.getByRole('tab', { name: 'API key' }).click();
    await page.getByLabel(/API key/).fill(`seam_0badc0de_${'B'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: '401' }).waitFor({ timeout: VIEW_WAIT });
    await page.getByLabel(/API key/).fill('hunter2');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That is not a key' }).waitFor({ timeout: VIEW_WAIT });
    expect(await page.locator('.seam-device-table').count()).toBe(0);

    // The real API key opens the console; the tab keeps a client session token, not the key.
    await page.getByLabel(/API key/).fill(world.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await deviceRow(page, 'front-door').waitFor({ timeout: VIEW_WAIT });
    const stored = await page.evaluate(() => {
      const web = globalThis as unknown as Record<'sessionStorage' | 'localStorage', Record<string, string>>;
      return JSON.stringify({ ...web.sessionStorage, ...web.localStorage });
    });
    expect(stored).not.toContain(world.apiKey);
    expect(stored).toMatch(/seam_cst_/);
    expect(foreign).toEqual([]);
    await page.close();
  });

  it('lists both locks online, sets a code made in the form, shows its unlock by name, and a lock going offline', async () => {
    const { page, foreign, failures } = await openConsole();
    await signInWithPublishableKey(page, world.publishableKey, 'front desk');

    // Both locks, online.
    for (const name of ['front-door', 'garden-gate'])
      await deviceRow(page, name).filter({ hasText: 'Online' }).waitFor({ timeout: VIEW_WAIT });
    await shot(page, 'locks');

    // The lock's view: details with lock/unlock, its codes, their status, its events.
    await deviceRow(page, 'front-door').click();
    await page
      .locator('.seam-device-details')
      .filter({ hasText: 'front-door' })
      .waitFor({ timeout: VIEW_WAIT });
    await page.getByRole('button', { name: 'New access code' }).click();
    const form = page.locator('.seam-access-code-form');
    await form.waitFor({ timeout: VIEW_WAIT });
    const inputs = form.locator('input[type="text"], input:not([type])');
    await inputs.nth(0).fill('Saturday visitor');
    await inputs.nth(1).fill('482913');
    // For a visitor: a time-bound code (the form's default window: from now, for a day).
    await form.getByText('Start/end times').click();
    await shot(page, 'new-code');

    // The lock is paused while the code is saved, so the console shows it `setting`
    // (declared, not yet reported) before the lock, resumed, reports it `set`.
    const frontDoor = world.locks.get('front-door')!;
    frontDoor.process.child.kill('SIGSTOP');
    let resumed = false;
    try {
      await form.getByRole('button', { name: 'Save' }).click();
      const status = page.locator('[data-testid="code-status"][data-name="Saturday visitor"] .code-status');
      await status.and(page.locator('[data-status="setting"]')).waitFor({ timeout: VIEW_WAIT });
      await shot(page, 'code-setting');
      frontDoor.process.child.kill('SIGCONT');
      resumed = true;
      await status.and(page.locator('[data-status="set"]')).waitFor({ timeout: VIEW_WAIT });
    } finally {
      if (!resumed) frontDoor.process.child.kill('SIGCONT');
    }

    // The code typed on the simulated keypad: the unlock, by the code's name.
    await frontDoor.control.request('press', { keys: '482913#' });
    await page
      .locator('[data-testid="event"][data-type="lock.unlocked"]')
      .filter({ hasText: 'Unlocked with “Saturday visitor” on the keypad' })
      .waitFor({ timeout: VIEW_WAIT });
    await shot(page, 'lock');

    // An offline code, computed from the lock's key: typed on the keypad, it opens, by name.
    await page.getByRole('button', { name: 'New offline code' }).click();
    const offlineForm = page.locator('.offline-code-form');
    await offlineForm.getByLabel('Name').fill('Cleaner, offline');
    await offlineForm.getByLabel('Valid from now for').selectOption('4');
    await offlineForm.getByRole('button', { name: 'Issue offline code' }).click();
    const issued = page.getByTestId('offline-code');
    await issued.waitFor({ timeout: VIEW_WAIT });
    const offlineCode = await issued.getAttribute('data-code');
    expect(offlineCode).toMatch(/^\d{8,}$/);
    await shot(page, 'offline-code');
    await frontDoor.control.request('press', { keys: `${offlineCode}#` });
    await offlineForm.getByRole('button', { name: 'Back' }).click();
    await page
      .locator('[data-testid="event"][data-type="lock.unlocked"]')
      .filter({ hasText: 'Unlocked with “Cleaner, offline” on the keypad' })
      .waitFor({ timeout: VIEW_WAIT });

    // Lock from the console: the lock's own report comes back as an event.
    await page.locator('.seam-lock-status').getByRole('button').click();
    await page
      .locator('[data-testid="event"]')
      .filter({ hasText: /Locked remotely|Unlocked remotely/ })
      .first()
      .waitFor({ timeout: VIEW_WAIT });

    // The code's details and its edit form.
    await page
      .getByTestId('access-codes')
      .locator('.seam-table-row')
      .filter({ hasText: 'Saturday visitor' })
      .click();
    await page.locator('.seam-access-code-details').waitFor({ timeout: VIEW_WAIT });
    await shot(page, 'code');
    await page.getByRole('button', { name: 'Edit code' }).click();
    const editForm = page.locator('.seam-access-code-form').filter({ hasText: 'Edit access code' });
    await editForm.waitFor({ timeout: VIEW_WAIT });
    await editForm.locator('input[type="text"], input:not([type])').nth(0).fill('Saturday visitor, late');
    await shot(page, 'edit-code');
    await editForm.getByRole('button', { name: 'Save' }).click();
    await page
      .locator('.seam-access-code-details')
      .filter({ hasText: 'Saturday visitor, late' })
      .waitFor({ timeout: VIEW_WAIT });

    // The garden gate goes away: the broker's last will marks it offline.
    world.locks.get('garden-gate')!.process.child.kill('SIGKILL');
    await page.goto(`${world.endpoint}/console/#/locks`);
    await deviceRow(page, 'garden-gate')
      .filter({ hasText: 'Device Offline' })
      .waitFor({ timeout: VIEW_WAIT });
    await deviceRow(page, 'front-door').filter({ hasText: 'Online' }).waitFor({ timeout: VIEW_WAIT });
    await shot(page, 'locks-one-offline');

    // Revoking the publishable key ends the session it opened: back to sign-in, saying why.
    const revoked = await world.lockctl(
      'api-key',
      'revoke',
      '--id',
      `pk_${world.publishableKey.split('_')[2]}`,
    );
    expect(revoked.status).toBe(0);
    await page
      .getByRole('alert')
      .filter({
        hasText: 'Your session ended (it expired, or the key that opened it was revoked): sign in again.',
      })
      .waitFor({ timeout: VIEW_WAIT });

    // What the forms made, as the API (checked against @seamapi/types) tells it.
    const { seam } = checkedSeamHttp(world.apiKey, world.endpoint);
    const door = (await seam.devices.list()).find((d) => d.display_name === 'front-door')!;
    const made = await seam.accessCodes.list({ device_id: door.device_id });
    expect(made).toHaveLength(2);
    expect(made).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'Saturday visitor, late', code: '482913', type: 'time_bound' }),
        expect.objectContaining({
          name: 'Cleaner, offline',
          code: offlineCode,
          is_offline_access_code: true,
        }),
      ]),
    );
    expect(foreign).toEqual([]);
    expect(failures).toEqual([]);
    await page.close();
  });
});
