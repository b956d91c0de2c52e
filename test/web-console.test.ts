import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { hits } from './support/plaintext.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { engines } from './support/postgres.js';
import { ROOT } from './support/processes.js';
import { requireBuiltConsole, startConsoleSystem, type ConsoleSystem } from './support/web-console.js';

/** Debian's chromium (.ci/run installs it); playwright-core brings no browser of its own. */
const CHROMIUM = process.env.VESSL_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, 'test-output', 'web');
const SECRETS_ROUTE = '#/secrets';
const MASK = '••••••';

/** The values typed into the forms: none may leave the page unsealed or land anywhere. */
const HF_VALUE = 'hf_web_console_value_7Qz';
const HF_ROTATED = 'hf_web_console_rotated_value_Kp4';
const WANDB_VALUE = 'wandb_web_console_value_M2x';
const PLAINTEXTS = [HF_VALUE, HF_ROTATED, WANDB_VALUE];

interface RecordedRequest {
  method: string;
  url: string;
  body: string;
}

/** Chromium, and how to close it (a close is not reported as a crash). */
async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
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
async function recordingContext(browser: Browser, requests: RecordedRequest[]): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.on('request', (req) => requests.push({ method: req.method(), url: req.url(), body: req.postData() ?? '' }));
  return context;
}

/** Everything the page keeps: cookies, localStorage and IndexedDB, plus this tab's sessionStorage. */
async function browserStorage(context: BrowserContext, page: Page): Promise<string> {
  const state = await context.storageState({ indexedDB: true });
  // Evaluated in the page (strings: these tests are type-checked without the DOM library).
  const session = await page.evaluate<string>('JSON.stringify(Object.entries(sessionStorage))');
  const databases = await page.evaluate<string>('indexedDB.databases().then((d) => JSON.stringify(d))');
  return JSON.stringify(state) + session + databases;
}

async function logInThroughForm(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.locator('textarea[name=token]').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Secrets' }).waitFor();
}

const row = (page: Page, secret: string) => page.locator(`tr[data-secret="${secret}"]`);

for (const engine of engines()) {
  describe(`the web console in headless Chromium (${engine.name})`, function () {
    this.timeout(120_000);
    let cs: ConsoleSystem;
    let chromiumProcess: Awaited<ReturnType<typeof launchChromium>> | undefined;
    let browser: Browser;
    let adminContext: BrowserContext;
    let admin: Page;
    const requests: RecordedRequest[] = [];
    let jobId = '';

    const shot = async (page: Page, name: string) => {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${engine.name}-${name}.png`), fullPage: true });
    };

    before(async () => {
      requireBuiltConsole();
      mkdirSync(SCREENSHOTS, { recursive: true });
      chromiumProcess = await launchChromium();
      browser = chromiumProcess.browser;
      cs = await startConsoleSystem({ databaseUrl: await engine.freshUrl() });
      adminContext = await recordingContext(browser, requests);
      admin = await adminContext.newPage();
    });
    after(async () => {
      await chromiumProcess?.close();
      await cs?.stop();
      await engine.cleanup();
    });

    it('logs an admin in with a pasted token and opens Organization > Secrets', async () => {
      await admin.goto(cs.web.url);
      await shot(admin, '01-login');
      await logInThroughForm(admin, cs.web.url, await cs.sys.token('admin', { subject: 'ada' }));
      expect(await admin.locator('nav').textContent()).to.match(/Organization\s*Secrets/);
      expect(await admin.locator('td.empty').innerText()).to.equal('No secrets yet.');
    });

    it('creates a secret through the form, sealing the value in the browser', async () => {
      await admin.getByRole('button', { name: 'New secret' }).click();
      const form = admin.getByRole('form', { name: 'New secret' });
      await form.locator('input[name=name]').fill('HF_TOKEN');
      await form.locator('input[name=value]').fill(HF_VALUE);
      await form.locator('input[name=description]').fill('Hugging Face hub token');
      await shot(admin, '02-new-secret');
      await form.getByRole('button', { name: 'Create' }).click();
      await admin.getByRole('status').filter({ hasText: 'Created secret HF_TOKEN (key HF_TOKEN).' }).waitFor();

      const create = requests.filter((r) => r.url.endsWith('/api/vessl.secrets.v1.SecretService/CreateSecret'));
      expect(create).to.have.length(1);
      const body = JSON.parse(create[0].body) as { secret: Record<string, string>; value: { sealedBox: string; keyId: string } };
      expect(body.secret).to.deep.equal({ name: 'HF_TOKEN', key: 'HF_TOKEN', description: 'Hugging Face hub token' });
      expect(Object.keys(body.value).sort()).to.deep.equal(['keyId', 'sealedBox']);
      // A sealed box: an ephemeral public key and a MAC (48 bytes) around the ciphertext.
      expect(Buffer.from(body.value.sealedBox, 'base64').length).to.equal(Buffer.byteLength(HF_VALUE) + 48);
    });

    it('lists the secret with its metadata and a masked value, never the value', async () => {
      const cells = await row(admin, 'HF_TOKEN').locator('td').allInnerTexts();
      expect(cells.slice(0, 5)).to.deep.equal(['HF_TOKEN', 'HF_TOKEN', MASK, 'Hugging Face hub token', 'ada']);
      expect(cells[5]).to.match(/\d/); // edited at
      await shot(admin, '03-secrets');
      expect(await admin.content()).to.not.include(HF_VALUE);
    });

    it("shows the server's validation message in place and keeps what the admin typed", async () => {
      await admin.getByRole('button', { name: 'New secret' }).click();
      const form = admin.getByRole('form', { name: 'New secret' });
      await form.locator('input[name=name]').fill('-wandb');
      await form.locator('input[name=key]').fill('WANDB_API_KEY');
      await form.locator('input[name=value]').fill(WANDB_VALUE);
      await form.locator('input[name=description]').fill('Weights & Biases');
      await form.getByRole('button', { name: 'Create' }).click();
      await form.getByRole('alert').waitFor();
      expect(await form.getByRole('alert').innerText()).to.match(/Invalid input/).and.to.include('secret.name');
      expect(await form.locator('.field-error').first().innerText()).to.include('must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$');
      await shot(admin, '04-new-secret-error');
      expect(await form.locator('input[name=key]').inputValue()).to.equal('WANDB_API_KEY');
      expect(await form.locator('input[name=description]').inputValue()).to.equal('Weights & Biases');

      await form.locator('input[name=name]').fill('wandb');
      await form.getByRole('button', { name: 'Create' }).click();
      await admin.getByRole('status').filter({ hasText: 'Created secret wandb (key WANDB_API_KEY).' }).waitFor();
    });

    it('creates a job through the form with two secrets and an overriding plain variable; its log is masked', async () => {
      await admin.getByRole('link', { name: 'Jobs' }).click();
      await admin.getByRole('button', { name: 'New job' }).click();
      const form = admin.getByRole('form', { name: 'New job' });
      await form.locator('input[name=name]').fill('web-job');
      await form.locator('textarea[name=command]').fill('echo "hf=$HF_TOKEN wandb=$WANDB_API_KEY hf_length=${#HF_TOKEN}"');
      await form.getByLabel('Variable 1 name').fill('WANDB_API_KEY');
      await form.getByLabel('Variable 1 value').fill('plain-override');
      await form.getByLabel('Secret 1', { exact: true }).selectOption('HF_TOKEN');
      await form.getByRole('button', { name: 'Add secret' }).click();
      await form.getByLabel('Secret 2', { exact: true }).selectOption('wandb');
      await shot(admin, '05-job-create');
      await form.getByRole('button', { name: 'Create job' }).click();

      const log = admin.getByTestId('job-log');
      await log.filter({ hasText: 'hf=***' }).waitFor({ timeout: 30_000 });
      jobId = decodeURIComponent(new URL(admin.url()).hash.replace('#/jobs/', ''));
      expect(jobId).to.match(/^j_[0-9a-f]{16}$/);
      // The plain variable won: the wandb secret was neither injected nor decrypted.
      expect((await log.innerText()).trim()).to.equal(`hf=*** wandb=plain-override hf_length=${HF_VALUE.length}`);
      expect(await admin.locator('.warning').first().innerText()).to.include('WANDB_API_KEY');
      expect(await admin.locator('[data-attempt="1"] [data-injected]').allInnerTexts()).to.deep.equal(['HF_TOKEN as HF_TOKEN, version 1']);
      await shot(admin, '06-job-detail');
    });

    it('rotates the value through Edit; the job shows its attempt as stale, and Restart picks up the new value', async () => {
      await admin.goto(cs.web.url + SECRETS_ROUTE);
      await row(admin, 'HF_TOKEN').getByRole('button', { name: 'Edit' }).click();
      const form = admin.getByRole('form', { name: 'Edit HF_TOKEN' });
      await form.locator('input[name=value]').fill(HF_ROTATED);
      await form.locator('input[name=description]').fill('Hugging Face hub token, rotated');
      await shot(admin, '07-edit-secret');
      await form.getByRole('button', { name: 'Save' }).click();
      await admin.getByRole('status').filter({ hasText: 'Updated secret HF_TOKEN: description, value changed (value version 2).' }).waitFor();
      expect(await row(admin, 'HF_TOKEN').locator('td').nth(3).innerText()).to.equal('Hugging Face hub token, rotated');

      await admin.goto(`${cs.web.url}#/jobs/${jobId}`);
      await admin.locator('.badge.stale').filter({ hasText: 'stale: now version 2' }).waitFor();
      await shot(admin, '08-job-stale');
      await admin.getByRole('button', { name: 'Restart' }).click();
      await admin.getByTestId('job-log').filter({ hasText: `hf_length=${HF_ROTATED.length}` }).waitFor({ timeout: 30_000 });
      expect(await admin.locator('[data-attempt="2"] [data-injected]').allInnerTexts()).to.deep.equal(['HF_TOKEN as HF_TOKEN, version 2']);
      // Attempt 1 keeps its mark (it ran on version 1); the latest attempt is current.
      expect(await admin.locator('[data-attempt="1"] .badge.stale').count()).to.equal(1);
      expect(await admin.locator('[data-attempt="2"] .badge.stale').count()).to.equal(0);
      expect(await admin.locator('.stale-note').count()).to.equal(0);
    });

    it('lists the job in Jobs', async () => {
      await admin.getByRole('link', { name: 'Jobs' }).click();
      await admin.locator(`tr[data-job="${jobId}"]`).waitFor();
      expect(await admin.locator(`tr[data-job="${jobId}"]`).innerText()).to.include('web-job');
      await shot(admin, '09-jobs');
    });

    it('deletes a secret after confirmation, and shows it again with "show deleted"', async () => {
      await admin.getByRole('link', { name: 'Secrets' }).click();
      await row(admin, 'wandb').getByRole('button', { name: 'Delete' }).click();
      await shot(admin, '10-delete-confirm');
      await admin.getByRole('form', { name: 'Delete wandb' }).getByRole('button', { name: 'Delete wandb' }).click();
      await admin.getByRole('status').filter({ hasText: 'Deleted secret wandb' }).waitFor();
      await row(admin, 'wandb').waitFor({ state: 'detached' });
      await admin.getByLabel('Show deleted').check();
      await row(admin, 'wandb').waitFor();
      expect(await row(admin, 'wandb').innerText()).to.include('deleted');
      await shot(admin, '11-secrets-deleted');
    });

    it('shows a member no admin actions, and the server refuses the member who forces one', async () => {
      const memberContext = await recordingContext(browser, requests);
      const member = await memberContext.newPage();
      const memberToken = await cs.sys.token('member', { subject: 'max' });
      await logInThroughForm(member, cs.web.url, memberToken);
      await row(member, 'HF_TOKEN').waitFor();
      expect(await member.getByRole('button', { name: 'New secret' }).count()).to.equal(0);
      expect(await member.getByRole('button', { name: /Edit|Delete/ }).count()).to.equal(0);
      await shot(member, '12-secrets-member');
      // Forcing the calls with the member's own token: the server says no, in words.
      const sealedBox = Buffer.alloc(80, 7).toString('base64');
      const calls = [
        { method: 'CreateSecret', body: { org: 'acme', secret: { name: 'forced', key: 'FORCED' }, value: { sealedBox, keyId: 'ok_forced' } } },
        { method: 'DeleteSecret', body: { org: 'acme', name: 'HF_TOKEN' } },
      ].map((call) => ({ ...call, token: memberToken }));
      // Only anonymous functions in here: tsx would wrap named ones in a helper the page lacks.
      const forced = await member.evaluate(
        (list) =>
          Promise.all(
            list.map(async (call) => {
              const res = await fetch(`/api/vessl.secrets.v1.SecretService/${call.method}`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', authorization: `Bearer ${call.token}` },
                body: JSON.stringify(call.body),
              });
              return { status: res.status, body: (await res.json()) as { error: { message: string } } };
            }),
          ),
        calls,
      );
      expect(forced.map((f) => f.status)).to.deep.equal([403, 403]);
      expect(forced.map((f) => f.body.error.message)).to.deep.equal(['role member may not create secrets', 'role member may not delete secrets']);
      await member.reload();
      await row(member, 'HF_TOKEN').waitFor();
      await memberContext.close();
    });

    it('never sent a plaintext value in any request, nor kept one in browser storage or a server log', async () => {
      expect(requests.filter((r) => r.url.includes('/api/')).length).to.be.greaterThan(10);
      // Raw, base64 (how proto3 JSON carries bytes), base64url and hex.
      const haystacks = [
        ...requests.map((r) => ({ where: `${r.method} ${r.url}`, bytes: Buffer.from(`${r.url}\n${r.body}`) })),
        { where: 'browser storage', bytes: Buffer.from(await browserStorage(adminContext, admin)) },
        { where: 'server log', bytes: readFileSync(cs.sys.logFile) },
        { where: 'web console log', bytes: readFileSync(cs.webLogFile) },
      ];
      expect(hits(haystacks, PLAINTEXTS)).to.deep.equal([]);
    });
  });
}
