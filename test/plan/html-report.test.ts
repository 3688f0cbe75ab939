/// <reference lib="dom" />
// The HTML report in a real browser: Debian's chromium driven by playwright-core (no downloaded
// browser, no network). The graph must render, a removed edge must be red, and clicking it must
// show the rule that used to allow it. A screenshot is kept under test-artifacts/.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { buildPlan } from '../../compiler/plan/plan.js';
import { renderHtml, edgeColor } from '../../compiler/plan/render/html.js';
import { listRevision, wl } from './fake-revisions.js';
import { main } from '../../cli/main.js';
import { TestRepo } from './repo.js';
import { flows, steps } from './sequence.js';

const chromiumPath = '/usr/bin/chromium';
const root = path.resolve(import.meta.dirname, '../..');
const artifacts = path.join(root, 'test-artifacts');
const missing = !existsSync(chromiumPath);
if (missing && process.env['CI'] === 'true')
  throw new Error(`${chromiumPath} is missing: CI must install chromium (scripts/setup.sh lists it)`);

describe.skipIf(missing)(
  `HTML plan report in headless Chromium${missing ? ` (skipped: ${chromiumPath} not installed; apt-get install -y chromium)` : ''}`,
  () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('renders the graph offline, colours the removed edge red and shows its rule on click', async () => {
      const workloads = [
        wl('shop', 'web'),
        wl('shop', 'api', [8080]),
        wl('shop', 'db', [5432]),
        wl('shop', 'cache', [6379]),
        wl('billing', 'ledger', [9000]),
      ];
      const base = listRevision('main', 'a'.repeat(40), workloads, ['web>api:8080', 'api>db:5432', 'api>cache:6379', 'api>ledger:9000']);
      const head = listRevision('feature', 'b'.repeat(40), workloads, ['web>api:8080', 'api>db:5432', 'api>cache:6380', 'web>cache:6379']);
      const plan = buildPlan({ base, head });
      const html = renderHtml(plan);
      mkdirSync(artifacts, { recursive: true });
      const file = path.join(artifacts, 'plan-report.html');
      writeFileSync(file, html);

      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${file}`);

      expect(await page.locator('#graph .node').count()).toBe(5);
      const removed = page.locator('.edge[data-status="removed"][data-src="shop/api[Deployment]"][data-dst="billing/ledger[Deployment]"]');
      expect(await removed.count()).toBe(1);
      const stroke = await removed.locator('path.line').evaluate((e) => getComputedStyle(e).stroke);
      expect(stroke).toBe('rgb(207, 34, 46)'); // edgeColor.removed
      expect(edgeColor.removed).toBe('#cf222e');
      expect(
        await page
          .locator('.edge[data-status="added"] path.line')
          .first()
          .evaluate((e) => getComputedStyle(e).stroke),
      ).toBe('rgb(26, 127, 55)');
      expect(await page.locator('.edge[data-status="changed"]').count()).toBe(1);

      // Click where a user would: on the drawn curve itself (its midpoint), not the bounding box.
      const at = await removed.locator('path.hit').evaluate((e) => {
        const p = e as SVGPathElement;
        const pt = p.getPointAtLength(p.getTotalLength() / 2);
        const m = p.getScreenCTM()!;
        return { x: pt.x * m.a + pt.y * m.c + m.e, y: pt.x * m.b + pt.y * m.d + m.f };
      });
      await page.mouse.click(at.x, at.y);
      const detail = page.locator('#detail');
      await expect.poll(() => detail.innerText()).toContain('Status: removed');
      const text = await detail.innerText();
      expect(text).toContain('shop/api[Deployment] → billing/ledger[Deployment]');
      expect(text).toContain('Newly denied: shop/api[Deployment] => billing/ledger[Deployment] : TCP 9000');
      expect(text).toContain('before: allow by shop/allow-api-ledger-9000 policies/allow.yaml:31 @aaaaaaa');
      expect(text).toContain('after: deny by shop/default-deny policies/deny.yaml:1 @bbbbbbb');
      expect(await removed.getAttribute('class')).toContain('selected');

      await page.screenshot({ path: path.join(artifacts, 'plan-report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      await page.close();
    });

    it('reports a deleted policy from a real repository: red edge, the rule that used to allow it', async () => {
      const repo = new TestRepo();
      try {
        for (const st of steps.slice(0, 5)) repo.commit(st);
        repo.write('flows.jsonl', flows);
        const file = path.join(artifacts, 'plan-report-delete-policy.html');
        const io = { stdout: () => {}, stderr: () => {}, cwd: repo.dir, env: {}, isTTY: false };
        const code = await main(
          [
            'plan',
            'apps',
            'network',
            '--base',
            'l7-rule',
            '--head',
            'delete-policy',
            '--flows',
            'flows.jsonl',
            '--format',
            'html',
            '--output',
            file,
            '--fail-on',
            'never',
          ],
          io,
        );
        expect(code).toBe(0);
        const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
        await page.goto(`file://${file}`);
        const removed = page.locator('.edge[data-status="removed"]');
        expect(await removed.count()).toBe(1);
        expect(await removed.getAttribute('data-src')).toBe('shop/backend[Deployment]');
        expect(await removed.getAttribute('data-dst')).toBe('shop/db[StatefulSet]');
        expect(await removed.locator('path.line').evaluate((e) => getComputedStyle(e).stroke)).toBe('rgb(207, 34, 46)');
        // Unchanged edges stay grey context.
        expect(await page.locator('.edge[data-status="same"]').count()).toBeGreaterThan(0);
        const at = await removed.locator('path.hit').evaluate((e) => {
          const p = e as SVGPathElement;
          const pt = p.getPointAtLength(p.getTotalLength() / 2);
          const m = p.getScreenCTM()!;
          return { x: pt.x * m.a + pt.y * m.c + m.e, y: pt.x * m.b + pt.y * m.d + m.f };
        });
        await page.mouse.click(at.x, at.y);
        await expect.poll(() => page.locator('#detail').innerText()).toContain('before: allow by shop/db-from-backend network/db.yaml:10');
        expect(await page.locator('#detail').innerText()).toContain('in use: 1 observed flow(s)');
        expect(await page.locator('.summary').innerText()).toMatch(/1\s*observed flows now dropped/);
        await page.screenshot({ path: path.join(artifacts, 'plan-report-delete-policy.png'), fullPage: true });
        await page.close();
      } finally {
        repo.dispose();
      }
    });
  },
);
