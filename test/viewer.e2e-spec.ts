/// <reference lib="dom" />
import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { IntegrityService } from '../src/integrity/integrity.service';
import { StatsRepository } from '../src/query/stats.repository';
import {
  attributeOf,
  countOf,
  eventually,
  launchChromium,
  screenshotDirectory,
  textOf,
  visible,
} from './support/browser';
import { parseCsv } from './support/csv';
import { createTestDatabase, TestDatabase } from './support/test-db';
import { flushAudit, startTestApp, token } from './support/test-app';

jest.setTimeout(180_000);

/**
 * The viewer as a compliance officer walks it, in Debian's Chromium against the real service and Postgres:
 * sign in with a token, find who changed a record, see the diff, follow to the record's history and the
 * actor's activity, be refused another organization's events, export, see the dashboard, verify the chain
 * and see it turn red once an event is tampered with.
 */
describe('audit viewer in a browser', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let alice: string;
  let accountId: string;
  let otherOrgEventId: string;
  const shots = screenshotDirectory();
  const shot = (name: string, p: Page = page) =>
    p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  /** The demo's own API: its JSON answer (an account), or null. */
  const api = async (
    method: string,
    path: string,
    bearer: string,
    body?: unknown,
  ): Promise<{ id: string } | null> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? null : ((await response.json()) as { id: string });
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp(db.url);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    alice = await token({ sub: 'alice', org: 'org-a', roles: ['audit:read', 'audit:admin'] });
    const bob = await token({ sub: 'bob', org: 'org-b', roles: ['audit:read'] });

    // Org A: three accounts, one of them renamed and upgraded by carol, then read.
    const carol = await token({ sub: 'carol', org: 'org-a', roles: [] });
    const created: Array<{ id: string }> = [];
    for (let i = 0; i < 3; i++)
      created.push(
        (await api('POST', '/accounts', alice, {
          name: `Acme ${i}`,
          email: `owner${i}@example.com`,
          plan: 'free',
          password: `a-long-password-${i}`,
        }))!,
      );
    accountId = created[1].id;
    await api('PATCH', `/accounts/${accountId}`, carol, { plan: 'pro', name: 'Acme Renamed' });
    await api('GET', `/accounts/${accountId}`, alice);
    // Org B: its own account, which org A must never see.
    const other = (await api('POST', '/accounts', bob, {
      name: 'Beta',
      email: 'beta@example.com',
      plan: 'free',
      password: 'another-long-password',
    }))!;
    await flushAudit(app);
    const { rows } = await db.sql.query(
      `SELECT id FROM audit_events WHERE organization_id = 'org-b' AND resource_id = $1`,
      [other.id],
    );
    otherOrgEventId = rows[0].id;
    await app.get(StatsRepository).refreshAll();
    await app.get(IntegrityService).chainAndSign();

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.drop();
  });

  const rows = () => page.locator('[role=grid] [role=row]');

  it('asks for a token, refuses a bad one, and signs in with a good one', async () => {
    await page.goto(`${base}/audit/ui`);
    await visible(page.getByRole('heading', { name: 'Sign in' }));
    await shot('sign-in');
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByText('The token was refused'));
    await page.getByLabel('Access token').fill(alice);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('heading', { name: 'Search the audit trail' }));
    await visible(page.getByText('alice · org-a'));
    await visible(rows().first());
    // Only org A's events: the three creates, the update, the read, and the viewer's own reads.
    const texts = await rows().allInnerTexts();
    expect(texts.some((t) => t.includes('Beta'))).toBe(false);
    await shot('search');
  });

  it('searches by resource, keeps the query in the URL, and the back button returns to it', async () => {
    await page.getByLabel('Resource id').fill(accountId);
    await page.getByLabel('Resource type').fill('account');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((url) => url.searchParams.get('resourceId') === accountId);
    await countOf(rows(), 3); // create, update, read
    const actions = await rows().locator('[role=gridcell]:nth-child(3)').allInnerTexts();
    expect(actions).toEqual(['read', 'update', 'create']);

    // The URL alone reproduces the search (shared link), and the back button goes back to the old one.
    const shared = page.url();
    await page.getByLabel('Action').fill('update');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((url) => url.searchParams.get('action') === 'update');
    await countOf(rows(), 1);
    await page.goBack();
    await page.waitForURL(shared);
    await countOf(rows(), 3);
    await eventually(async () => expect(await page.getByLabel('Action').inputValue()).toBe(''));
    // A shared link opened in another tab: the token lives in one tab only, so it asks for one first.
    const second = await context.newPage();
    await second.goto(shared);
    await second.getByLabel('Access token').fill(alice);
    await second.getByRole('button', { name: 'Sign in' }).click();
    await countOf(second.locator('[role=grid] [role=row]'), 3);
    await second.close();
  });

  it('opens an event with the keyboard and shows its diff side by side, secrets as redacted', async () => {
    await page.getByRole('grid').focus();
    await page.keyboard.press('ArrowDown'); // the update (second row, newest first)
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/audit\/ui\/events\//);
    await textOf(page.getByRole('heading', { level: 1 }), 'account.update');
    const plan = page.locator('table.diff tr[data-field="plan"]');
    await attributeOf(plan, 'class', /changed/);
    await eventually(async () => expect((await plan.locator('td.before').innerText()).trim()).toBe('free'));
    await eventually(async () => expect((await plan.locator('td.after').innerText()).trim()).toBe('pro'));
    await eventually(async () =>
      expect((await page.locator('table.diff tr[data-field="name"] td.after').innerText()).trim()).toBe(
        'Acme Renamed',
      ),
    );
    // Unchanged fields are not marked; the password hash is shown as redacted, never blank.
    // updatedAt moved, but it is an ignored field: shown, not marked.
    expect(
      (await page.locator('table.diff tr[data-field="updatedAt"]').getAttribute('class')) ?? '',
    ).not.toMatch(/changed/);
    expect((await page.locator('table.diff tr[data-field="email"]').getAttribute('class')) ?? '').not.toMatch(
      /changed/,
    );
    await eventually(async () =>
      expect(
        (await page.locator('table.diff tr[data-field="passwordHash"] td.after').innerText()).trim(),
      ).toBe('redacted'),
    );
    await visible(page.getByText('carol', { exact: true }));
    await visible(page.getByText('PATCH /accounts/:id'));
    await shot('event');
  });

  it('follows the event to the record history and to the actor activity', async () => {
    // Everything the update's request and its database transaction did: that one update.
    await page.getByRole('link', { name: /everything it did/ }).click();
    await page.waitForURL(/\/audit\/ui\/requests\//);
    await countOf(rows(), 1);
    await textOf(rows().first(), 'update');
    await page.goBack();
    await page.locator('dl.context').getByRole('link', { name: /^\d+$/ }).click();
    await page.waitForURL(/\/audit\/ui\/transactions\/\d+/);
    await countOf(rows(), 1);
    await page.goBack();
    await page.getByRole('link', { name: /\(history\)/ }).click();
    await page.waitForURL(/\/audit\/ui\/resources\/account\//);
    const items = page.locator('.timeline-item');
    await countOf(items, 3);
    await textOf(items.nth(1), 'update');
    await textOf(items.nth(1), 'plan: free → pro');
    // The record as of now, and as of a day before it existed.
    await page.getByRole('button', { name: 'Show' }).click();
    await textOf(page.locator('.as-of-verdict'), 'As left by the update');
    await textOf(page.locator('table.as-of-state tr[data-field="plan"]'), 'pro');
    await shot('resource-history');
    await page.getByLabel('As of').fill('2020-01-01T00:00:00');
    await page.getByRole('button', { name: 'Show' }).click();
    await textOf(page.locator('.as-of-verdict'), 'did not exist yet');

    await items.nth(1).getByRole('link', { name: 'carol' }).click();
    await page.waitForURL(/\/audit\/ui\/actors\/carol/);
    await visible(page.getByRole('heading', { name: /Activity of/ }));
    await textOf(page.locator('table.counts tbody tr').first(), 'update');
    await countOf(rows(), 1);
    await shot('actor-activity');
  });

  it("refuses another organization's events", async () => {
    await page.goto(`${base}/audit/ui/events/${otherOrgEventId}`);
    await textOf(page.getByRole('alert'), 'Not found');
    await page.goto(`${base}/audit/ui/?organizationId=org-b`);
    await textOf(page.getByRole('alert'), 'Refused');
    await countOf(rows(), 0);
  });

  it('exports the current search as CSV through the export endpoint', async () => {
    await page.goto(`${base}/audit/ui/?resourceType=account&resourceId=${accountId}`);
    await countOf(rows(), 3);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    await visible(page.getByRole('status').filter({ hasText: 'Exported' }));
    const csv = parseCsv(readFileSync((await download.path())!, 'utf8'));
    const header = csv[0];
    const body = csv.slice(1).filter((row) => row.length > 1);
    expect(body).toHaveLength(3);
    const action = header.indexOf('action');
    expect(body.map((row) => row[action]).sort()).toEqual(['create', 'read', 'update']);
    expect(body.every((row) => row.includes(accountId))).toBe(true);
  });

  it('shows the dashboard charts with the refresh time', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await countOf(page.locator('canvas'), 3);
    await eventually(async () =>
      expect(await page.getByText(/Figures as of/).innerText()).not.toContain('never'),
    );
    await visible(page.getByText(/Events per day by action \(\d+ in all\)/));
    await shot('dashboard');
  });

  it('previews a restore of the first version, then restores it through the app and links the revert event', async () => {
    await page.goto(`${base}/audit/ui/?resourceType=account&resourceId=${accountId}&action=create`);
    await countOf(rows(), 1);
    await rows().first().click();
    await page.getByRole('button', { name: 'Preview the restore' }).click();
    const preview = page.locator('table.revert-preview');
    await textOf(preview.locator('tr[data-field="plan"]'), 'pro');
    await textOf(preview.locator('tr[data-field="plan"] td:last-child'), 'free');
    await textOf(preview.locator('tr[data-field="name"] td:last-child'), 'Acme 1');
    // Nothing changed yet: a preview is a dry run.
    expect(await api('GET', `/accounts/${accountId}`, alice)).toMatchObject({ plan: 'pro' });
    await page.getByLabel('Reason').fill('customer asked to undo the upgrade');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await textOf(page.locator('.verdict-ok'), 'Restored');
    expect(await api('GET', `/accounts/${accountId}`, alice)).toMatchObject({ plan: 'free', name: 'Acme 1' });
    await shot('restore');
    await page.getByRole('link', { name: 'See the revert event' }).click();
    await textOf(page.getByRole('heading', { level: 1 }), 'account.revert');
    await textOf(page.locator('dl.context'), 'customer asked to undo the upgrade');
  });

  it('verifies the chain green, then red with the first broken event linked after tampering', async () => {
    await page.getByRole('link', { name: 'Integrity' }).click();
    await page.getByRole('button', { name: 'Verify now' }).click();
    await textOf(page.locator('.verdict-ok').first(), 'Intact');
    await textOf(page.locator('#last-verify').locator('..'), 'Intact');
    await shot('integrity-ok');

    const { rows: victims } = await db.sql.query(
      `SELECT id FROM audit_events WHERE organization_id = 'org-a' AND action = 'update' AND resource_id = $1`,
      [accountId],
    );
    await db.sql.query('BEGIN');
    await db.sql.query(`SET LOCAL audit.lifecycle = 'on'`);
    await db.sql.query(`UPDATE audit_events SET after = jsonb_set(after, '{plan}', '"free"') WHERE id = $1`, [
      victims[0].id,
    ]);
    await db.sql.query('COMMIT');

    await page.getByRole('button', { name: 'Verify now' }).click();
    const broken = page.locator('section[aria-labelledby="verify-title"] .verdict-broken');
    await textOf(broken, 'Broken chain');
    await visible(broken.getByRole('link', { name: victims[0].id }));
    // Red: the verdict's colours are the theme's "bad" ones.
    const color = await broken.evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(color).toBe('rgb(255, 235, 233)');
    await shot('integrity-broken');
    await broken.getByRole('link', { name: victims[0].id }).click();
    await page.waitForURL(new RegExp(`/audit/ui/events/${victims[0].id}`));
    await textOf(page.getByRole('heading', { level: 1 }), 'account.update');
  });

  it('is readable on a phone and in the dark theme', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const small = await phone.newPage();
    await small.addInitScript((t) => sessionStorage.setItem('audit-viewer-token', t), alice);
    await small.goto(`${base}/audit/ui/`);
    await visible(small.locator('[role=grid] [role=row]').first());
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('search-phone', small);
    await phone.close();

    await page.goto(`${base}/audit/ui/`);
    await page.getByLabel('Theme').selectOption('dark');
    await attributeOf(page.locator('html'), 'data-theme', 'dark');
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(13, 17, 23)');
    await visible(rows().first());
    await shot('search-dark');
  });

  it('names every control for assistive technology', async () => {
    for (const path of ['/', '/dashboard', '/integrity']) {
      await page.goto(`${base}/audit/ui${path}`);
      await page.locator('main h1').waitFor();
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll('button, input, select, textarea, a[href], [role=grid]')]
          .filter((el) => {
            const labelled = (el as HTMLInputElement).labels?.length || el.getAttribute('aria-label');
            const text = (el.textContent ?? '').trim();
            return !labelled && !text && !el.getAttribute('aria-labelledby') && !el.getAttribute('title');
          })
          .map((el) => el.outerHTML.slice(0, 80)),
      );
      expect(unnamed).toEqual([]);
    }
  });
});
