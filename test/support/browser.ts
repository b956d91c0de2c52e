// Driving the web console in headless Chromium: the browser, logging in, and what the tests ask
// of a page (focus, descriptions, title, axe-core). Shared by every console test file.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { seriousViolations } from './axe.js';
import { ROOT } from './processes.js';

/** Debian's chromium (.ci/run installs it); playwright-core brings no browser of its own. */
export const CHROMIUM = process.env.VESSL_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test-output', 'web');

export interface RecordedRequest {
  method: string;
  url: string;
  body: string;
}

/** Chromium, and how to close it (a close is not reported as a crash). */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: the web console tests need it. Install it with \`apt-get install -y chromium\` (.ci/run does).`);
  }
  // --no-sandbox: CI and the dev machines run as root, where Chromium's sandbox cannot start.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  let closing = false;
  // Said once, so that the failures of every later step point at the cause.
  browser.on('disconnected', () => closing || console.error(`Chromium (${CHROMIUM}) exited or crashed during the web console tests`));
  return {
    browser,
    async close() {
      closing = true;
      await browser.close();
    },
  };
}

/** A browser context that records every request it makes, body included. */
export async function recordingContext(browser: Browser, requests: RecordedRequest[]): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.on('request', (req) => requests.push({ method: req.method(), url: req.url(), body: req.postData() ?? '' }));
  return context;
}

export async function logInThroughForm(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.locator('textarea[name=token]').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Secrets' }).waitFor();
}

export const dialog = (page: Page, name: string) => page.getByRole('dialog', { name });

/** The focused element, as "TAG name" for a field and "TAG label or text" otherwise. */
export const focused = (page: Page) =>
  page.evaluate<string>(`(() => {
    const el = document.activeElement;
    if (!el) return '';
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)) return el.tagName + ' ' + el.name;
    return el.tagName + ' ' + (el.getAttribute('aria-label') || el.innerText.trim());
  })()`);

/** The text of what describes the field with this id (its hint and error, via aria-describedby). */
export const describedBy = (page: Page, id: string) =>
  page.evaluate<string>(`(document.getElementById(${JSON.stringify(id)}).getAttribute('aria-describedby') || '').split(' ').filter(Boolean).map((d) => document.getElementById(d).innerText).join(' | ')`);

/** Waits for the tab's title to become `title` (each route sets its own as it renders). */
export const titled = (page: Page, title: string) => page.waitForFunction(`document.title === ${JSON.stringify(title)}`, undefined, { timeout: 10_000 });

/** axe-core finds no serious or critical violation on the page as it is (dialogs included). */
export async function expectAccessible(page: Page, where: string): Promise<void> {
  expect(await seriousViolations(page), `axe-core on ${where}`).to.deep.equal([]);
}

/** The page's width as laid out: at most the viewport's when nothing scrolls sideways. */
export const pageWidth = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth');
