import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Job } from '../services/gen/vessl/jobs/v1/jobs.js';
import type { Secret } from '../services/gen/vessl/secrets/v1/secrets.js';
import { seriousViolations } from './support/axe.js';
import { describedBy, dialog, expectAccessible, focused, launchChromium, logInThroughForm, recordingContext, SCREENSHOTS, titled, type RecordedRequest } from './support/browser.js';
import { digest, envDigests } from './support/chaos.js';
import { hits } from './support/plaintext.js';
import { engines } from './support/postgres.js';
import { requireBuiltConsole, startConsoleSystem, type ConsoleSystem } from './support/web-console.js';

const SECRETS_ROUTE = '#/secrets';
const MASK = '••••••';

/** The values typed into the forms: none may leave the page unsealed or land anywhere. */
const HF_VALUE = 'hf_web_console_value_7Qz';
const HF_ROTATED = 'hf_web_console_rotated_value_Kp4';
const WANDB_VALUE = 'wandb_web_console_value_M2x';
/** A PEM key (made-up base64, 64 columns) with its trailing newline, typed into the Value field. */
const PEM_VALUE = [
  '-----BEGIN PRIVATE KEY-----',
  'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7webconsolePEM',
  'q2X9fXh0ZWJ3ZWJjb25zb2xlcGVta2V5bm90cmVhbGx5YWtleWF0YWxsMDEyMzQ1',
  'Zm9vYmFyYmF6cXV4',
  '-----END PRIVATE KEY-----',
  '',
].join('\n');
/** A pretty-printed service-account JSON key (4+ lines, a trailing newline), uploaded as a file. */
const JSON_VALUE = `${JSON.stringify({ type: 'service_account', project_id: 'vessl-web-console', private_key_id: 'c0ffee0123456789', client_email: 'ci@vessl-web-console.iam.example' }, null, 2)}\n`;
const PLAINTEXTS = [HF_VALUE, HF_ROTATED, WANDB_VALUE, PEM_VALUE, JSON_VALUE];

/**
 * A job command printing `NAME=<sha256 of the value>` per variable: the digest of the exact
 * bytes (a trailing newline included: "$VAR" keeps it), so no plaintext reaches the log.
 */
const printDigests = (names: string[]) => names.map((n) => `printf '%s=%s\\n' ${n} "$(printf %s "$${n}" | sha256sum | cut -c1-64)"`).join('; ');

/** Everything the page keeps: cookies, localStorage and IndexedDB, plus this tab's sessionStorage. */
async function browserStorage(context: BrowserContext, page: Page): Promise<string> {
  const state = await context.storageState({ indexedDB: true });
  // Evaluated in the page (strings: these tests are type-checked without the DOM library).
  const session = await page.evaluate<string>('JSON.stringify(Object.entries(sessionStorage))');
  const databases = await page.evaluate<string>('indexedDB.databases().then((d) => JSON.stringify(d))');
  return JSON.stringify(state) + session + databases;
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

    /** Keeps a screenshot of the page (all of it, or on a phone the screen as the user sees it). */
    const shot = async (page: Page, name: string, fullPage = true) => {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${engine.name}-${name}.png`), fullPage });
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

    it('logs an admin in with a pasted token; the server says who it is; focus lands on the page heading', async () => {
      await admin.goto(cs.web.url);
      await titled(admin, 'Log in · vessl-secrets');
      await expectAccessible(admin, 'login');
      await shot(admin, '01-login');
      await logInThroughForm(admin, cs.web.url, await cs.sys.token('admin', { subject: 'ada' }));
      expect(await admin.locator('nav').textContent()).to.match(/Organization\s*Secrets/);
      expect(await admin.getByTestId('who').innerText()).to.match(/ada\s+admin\s+org acme/);
      expect(await admin.locator('td.empty').innerText()).to.equal('No secrets yet.');
      await titled(admin, 'Secrets · vessl-secrets');
      expect(await focused(admin)).to.equal('H1 Secrets');
      // From the keyboard, the next control shows a visible focus ring.
      await admin.keyboard.press('Tab');
      expect(await focused(admin)).to.equal('BUTTON New secret');
      expect(await admin.evaluate<string>('(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + " " + s.outlineWidth; })()')).to.equal('solid 3px');
      // One authenticated call decided who this is.
      expect(requests.filter((r) => r.url.endsWith('/api/vessl.secrets.v1.SecretService/WhoAmI'))).to.have.length.greaterThan(0);
    });

    it('creates a secret through the New secret dialog, sealing the value in the browser', async () => {
      await admin.getByRole('button', { name: 'New secret' }).click();
      const form = dialog(admin, 'New secret');
      expect(await focused(admin)).to.equal('INPUT name');
      await form.locator('input[name=name]').fill('HF_TOKEN');
      await form.locator('textarea[name=value]').fill(HF_VALUE);
      await form.locator('input[name=description]').fill('Hugging Face hub token');
      await expectAccessible(admin, 'new secret dialog');
      await shot(admin, '02-new-secret');
      await form.getByRole('button', { name: 'Create' }).click();
      await admin.getByRole('status').filter({ hasText: 'Created secret HF_TOKEN (key HF_TOKEN).' }).waitFor();
      // Focus went back to what opened the dialog.
      expect(await focused(admin)).to.equal('BUTTON New secret');

      const create = requests.filter((r) => r.url.endsWith('/api/vessl.secrets.v1.SecretService/CreateSecret'));
      expect(create).to.have.length(1);
      const body = JSON.parse(create[0].body) as { secret: Record<string, string>; value: { sealedBox: string; keyId: string } };
      expect(body.secret).to.deep.equal({ name: 'HF_TOKEN', key: 'HF_TOKEN', description: 'Hugging Face hub token' });
      expect(Object.keys(body.value).sort()).to.deep.equal(['keyId', 'sealedBox']);
      // A sealed box: an ephemeral public key and a MAC (48 bytes) around the ciphertext.
      expect(Buffer.from(body.value.sealedBox, 'base64').length).to.equal(Buffer.byteLength(HF_VALUE) + 48);
    });

    it('lists the secret with its metadata, value version and a masked value, never the value', async () => {
      const cells = await row(admin, 'HF_TOKEN').locator('td').allInnerTexts();
      expect(cells.slice(0, 5)).to.deep.equal(['HF_TOKEN', 'HF_TOKEN', MASK, '1', 'Hugging Face hub token']);
      expect(cells[5]).to.equal('just now'); // last rotated
      expect(cells[6]).to.equal('ada, just now');
      // The exact time is there on hover.
      expect(await row(admin, 'HF_TOKEN').locator('time').first().getAttribute('title')).to.match(/\d{4}/);
      await expectAccessible(admin, 'secrets list');
      await shot(admin, '03-secrets');
      expect(await admin.content()).to.not.include(HF_VALUE);
    });

    it('checks the form in the browser by the server’s rules: each error once, at its field, with a summary linking to it', async () => {
      const calls = () => requests.filter((r) => r.url.endsWith('/CreateSecret')).length;
      const before = calls();
      await admin.getByRole('button', { name: 'New secret' }).click();
      const form = dialog(admin, 'New secret');
      await form.locator('input[name=name]').fill('-wandb');
      await form.locator('input[name=key]').fill('PATH');
      await form.locator('textarea[name=value]').fill(WANDB_VALUE);
      await form.locator('input[name=description]').fill('Weights & Biases');
      await form.getByRole('button', { name: 'Create' }).click();
      const summary = form.getByRole('alert');
      await summary.waitFor();
      expect(calls(), 'refused in the browser, no call').to.equal(before);
      expect(await focused(admin)).to.match(/^DIV Please correct these 2 fields/);
      expect(await summary.getByRole('link').allInnerTexts()).to.deep.equal(['Name', 'Key']);
      const name = form.locator('input[name=name]');
      expect(await name.getAttribute('aria-invalid')).to.equal('true');
      const described = await describedBy(admin, 'secret-name');
      expect(described).to.include('Name must start with a letter or digit and hold only letters, digits, ".", "_" and "-"');
      expect(await describedBy(admin, 'secret-key')).to.include('PATH decides which program each command of the job runs');
      // Once: the message is at the field, the summary only names the field; nothing in the label.
      expect((await form.innerText()).split('must start with a letter or digit')).to.have.length(2);
      expect(await form.locator('label[for=secret-name]').innerText()).to.equal('Name');
      await expectAccessible(admin, 'new secret dialog with errors');
      await shot(admin, '04-new-secret-error');
      await summary.getByRole('link', { name: 'Key' }).click();
      expect(await focused(admin)).to.equal('INPUT key');
      expect(await form.locator('input[name=description]').inputValue()).to.equal('Weights & Biases');

      // What only the server can know, at the field it concerns: the name is taken.
      await name.fill('HF_TOKEN');
      await form.locator('input[name=key]').fill('WANDB_API_KEY');
      await form.getByRole('button', { name: 'Create' }).click();
      await form.getByRole('alert').filter({ hasText: 'Please correct this field' }).waitFor();
      expect(calls()).to.equal(before + 1);
      expect(await describedBy(admin, 'secret-name')).to.match(/secret "HF_TOKEN" already exists/i);
      expect(await form.locator('[aria-invalid=true]').count()).to.equal(1);

      await name.fill('wandb');
      await form.getByRole('button', { name: 'Create' }).click();
      await admin.getByRole('status').filter({ hasText: 'Created secret wandb (key WANDB_API_KEY).' }).waitFor();
    });

    it('takes multi-line values byte for byte, typed (hidden until shown) or uploaded, and a job gets them exactly', async () => {
      await admin.getByRole('button', { name: 'New secret' }).click();
      let form = dialog(admin, 'New secret');
      await form.locator('input[name=name]').fill('TLS_KEY');
      const value = form.locator('textarea[name=value]');
      await value.fill(PEM_VALUE);
      expect(await value.getAttribute('class')).to.include('concealed');
      await shot(admin, '05-value-hidden');
      await form.getByRole('button', { name: 'Show value' }).click();
      expect(await form.getByRole('button', { name: 'Hide value' }).getAttribute('aria-pressed')).to.equal('true');
      expect(await value.getAttribute('class')).to.not.include('concealed');
      expect(await value.inputValue()).to.equal(PEM_VALUE);
      await form.getByRole('button', { name: 'Create' }).click();
      await admin.getByRole('status').filter({ hasText: 'Created secret TLS_KEY' }).waitFor();

      await admin.getByRole('button', { name: 'New secret' }).click();
      form = dialog(admin, 'New secret');
      await form.locator('input[name=name]').fill('GCP_SA_JSON');
      await form.locator('input[name=value-file]').setInputFiles({ name: 'sa.json', mimeType: 'application/json', buffer: Buffer.from(JSON_VALUE) });
      await form.locator('[data-value-file="sa.json"]').waitFor();
      expect(await form.locator('[data-value-file]').innerText()).to.include(`${Buffer.byteLength(JSON_VALUE)} bytes`);
      await shot(admin, '06-value-file');
      await form.getByRole('button', { name: 'Create' }).click();
      await admin.getByRole('status').filter({ hasText: 'Created secret GCP_SA_JSON' }).waitFor();

      const creates = requests.filter((r) => r.url.endsWith('/CreateSecret')).slice(-2);
      const sizes = creates.map((c) => Buffer.from((JSON.parse(c.body) as { value: { sealedBox: string } }).value.sealedBox, 'base64').length - 48);
      expect(sizes).to.deep.equal([Buffer.byteLength(PEM_VALUE), Buffer.byteLength(JSON_VALUE)]);

      // A binary file (NUL and non-UTF-8 bytes) is kept as it is, and marked as no variable.
      const binary = Buffer.from([0x30, 0x82, 0x00, 0xff, 0xfe, 0x0a, 0x00, 0x01, 0x80, 0x0d, 0x0a]);
      await admin.getByRole('button', { name: 'New secret' }).click();
      form = dialog(admin, 'New secret');
      await form.locator('input[name=name]').fill('CA_DER');
      await form.locator('input[name=value-file]').setInputFiles({ name: 'ca.der', mimeType: 'application/octet-stream', buffer: binary });
      await form.locator('[data-value-file="ca.der"]').waitFor();
      await form.getByRole('button', { name: 'Create' }).click();
      await admin.getByRole('status').filter({ hasText: 'Created secret CA_DER' }).waitFor();
      const sealedDer = (JSON.parse(requests.filter((r) => r.url.endsWith('/CreateSecret')).at(-1)!.body) as { value: { sealedBox: string } }).value.sealedBox;
      expect(Buffer.from(sealedDer, 'base64').length - 48).to.equal(binary.length);
      expect(await row(admin, 'CA_DER').locator('.badge').innerText()).to.equal('file only');

      // A job submitted through the console's own form gets both values, byte for byte.
      await admin.goto(`${cs.web.url}#/jobs/new`);
      const jobForm = admin.getByRole('form', { name: 'New job' });
      await jobForm.locator('input[name=name]').fill('digests');
      await jobForm.locator('textarea[name=command]').fill(printDigests(['TLS_KEY', 'GCP_SA_JSON']));
      await jobForm.getByLabel('Secret 1', { exact: true }).locator('option[value=TLS_KEY]').waitFor({ state: 'attached' });
      await jobForm.getByLabel('Secret 1', { exact: true }).selectOption('TLS_KEY');
      await jobForm.getByRole('button', { name: 'Add secret' }).click();
      await jobForm.getByLabel('Secret 2', { exact: true }).selectOption('GCP_SA_JSON');
      await jobForm.getByRole('button', { name: 'Create job' }).click();
      await admin.getByTestId('job-log').filter({ hasText: 'GCP_SA_JSON=' }).waitFor({ timeout: 30_000 });
      const digestsJob = decodeURIComponent(new URL(admin.url()).hash.replace('#/jobs/', ''));
      const env = envDigests(cs.sys.dataDir, digestsJob);
      expect(env.get('TLS_KEY')).to.equal(digest(PEM_VALUE));
      expect(env.get('GCP_SA_JSON')).to.equal(digest(JSON_VALUE));
    });

    it('gives a picked secret as a file: the path checked at its field (in the browser by the shared rules, else by the server), the bytes exact, each attempt showing the file', async () => {
      await admin.goto(`${cs.web.url}#/jobs/new`);
      const form = admin.getByRole('form', { name: 'New job' });
      await form.locator('input[name=name]').fill('pem-file');
      // Image and command by the job launcher's rules too, in its words, before any request.
      const creates = () => requests.filter((r) => r.url.endsWith('/CreateJob')).length;
      const before = creates();
      await form.locator('input[name=image]').fill('python 3.12');
      await form.getByRole('button', { name: 'Create job' }).click();
      await form.getByRole('alert').waitFor();
      expect(await form.getByRole('alert').getByRole('link').allInnerTexts()).to.deep.equal(['Image', 'Command']);
      expect(await describedBy(admin, 'job-image')).to.equal('Image must be an image reference such as python:3.12, without spaces');
      expect(await describedBy(admin, 'job-command')).to.equal('run with /bin/sh -c | Command is required');
      expect(creates(), 'refused in the browser, no call').to.equal(before);
      await form.locator('input[name=image]').fill('python:3.12');
      // The digest of the file's bytes, trailing newline included; no plaintext reaches the log.
      await form.locator('textarea[name=command]').fill('printf "PEM_FILE=%s\\n" "$(sha256sum < /run/secrets/tls | cut -c1-64)"');
      const picker = form.getByLabel('Secret 1', { exact: true });
      await picker.locator('option[value=TLS_KEY]').waitFor({ state: 'attached' });
      await picker.selectOption('TLS_KEY');
      await form.getByLabel('Secret 1 given as').selectOption('file');
      const filePath = form.getByLabel('Secret 1 file path');
      expect(await filePath.inputValue(), 'suggested from the secret picked').to.equal('/run/secrets/TLS_KEY');

      // A path the shared rules refuse: at its field, once, and no request is sent.
      await filePath.fill('/run/secrets/../etc/tls');
      await form.getByRole('button', { name: 'Create job' }).click();
      const summary = form.getByRole('alert');
      await summary.waitFor();
      expect(creates(), 'refused in the browser, no call').to.equal(before);
      expect(await summary.getByRole('link').allInnerTexts()).to.deep.equal(['Secret 1 file path']);
      const refusal = 'Secret 1 file path: "/run/secrets/../etc/tls" has a "." or ".." segment: give the path without them';
      expect(await form.locator('#secret-0-path-error').innerText()).to.equal(refusal);
      expect(await filePath.getAttribute('aria-invalid')).to.equal('true');
      expect(await describedBy(admin, 'secret-0-path')).to.equal(refusal);
      expect((await form.innerText()).split('has a "." or ".." segment')).to.have.length(2);
      await expectAccessible(admin, 'new job with a bad file path');
      await shot(admin, '06b-job-file-path-error');
      await summary.getByRole('link', { name: 'Secret 1 file path' }).click();
      expect(await focused(admin)).to.equal('INPUT secret-0-path');

      // Well-formed but under no root of this backend: only the server knows; its answer lands at the same field.
      await filePath.fill('/etc/tls.pem');
      await form.locator('#secret-0-path-error').waitFor({ state: 'detached' });
      await form.getByRole('button', { name: 'Create job' }).click();
      await form.locator('#secret-0-path-error').filter({ hasText: 'is not under' }).waitFor();
      expect(creates()).to.equal(before + 1);
      expect(await form.locator('#secret-0-path-error').innerText()).to.equal('Secret 1 file path: "/etc/tls.pem" is not under /run/secrets/ or /home/job/');

      await filePath.fill('/run/secrets/tls');
      await form.locator('#secret-0-path-error').waitFor({ state: 'detached' });
      // Two secrets on one path: the shared rules see the clash in the browser too.
      await form.getByRole('button', { name: 'Add secret' }).click();
      await form.getByLabel('Secret 2', { exact: true }).selectOption('GCP_SA_JSON');
      await form.getByLabel('Secret 2 given as').selectOption('file');
      expect(await form.getByLabel('Secret 2 file path').inputValue()).to.equal('/run/secrets/GCP_SA_JSON');
      await form.getByLabel('Secret 2 file path').fill('/run/secrets/tls');
      await form.getByRole('button', { name: 'Create job' }).click();
      await form.locator('#secret-1-path-error').waitFor();
      expect(await form.locator('#secret-1-path-error').innerText()).to.equal('Secret 2 file path: "/run/secrets/tls" is also the path of secret "TLS_KEY": one file per path');
      expect(creates(), 'refused in the browser, no call').to.equal(before + 1);
      await form.getByRole('button', { name: 'Remove secret 2' }).click();
      await form.getByRole('alert').waitFor({ state: 'detached' });
      await expectAccessible(admin, 'new job with a secret as a file');
      await shot(admin, '06c-job-secret-file');
      await form.getByRole('button', { name: 'Create job' }).click();
      await admin.getByTestId('job-log').filter({ hasText: 'PEM_FILE=' }).waitFor({ timeout: 30_000 });
      const fileJob = decodeURIComponent(new URL(admin.url()).hash.replace('#/jobs/', ''));
      expect(envDigests(cs.sys.dataDir, fileJob).get('PEM_FILE')).to.equal(digest(PEM_VALUE));
      const sent = JSON.parse(requests.filter((r) => r.url.endsWith('/CreateJob')).at(-1)!.body) as { job: { secrets: unknown[] } };
      expect(sent.job.secrets).to.deep.equal([{ secretName: 'TLS_KEY', envName: '', filePath: '/run/secrets/tls' }]);

      // Rotated since: the attempt's file is marked stale, as a variable is, and stays so after a reload.
      const secrets = cs.sys.secrets(await cs.sys.token('admin'));
      await secrets.updateSecret({ org: 'acme', secret: { name: 'TLS_KEY' } as Secret, updateMask: ['value'], value: await cs.sys.seal('rotated-tls-0000', 'acme') });
      await admin.reload();
      const attempt = admin.locator('[data-attempt="1"] [data-file="/run/secrets/tls"]');
      await attempt.waitFor();
      expect(await attempt.innerText()).to.match(/^file \/run\/secrets\/tls ← TLS_KEY v1\s*stale: now version 2$/);
      expect(await attempt.getAttribute('class')).to.equal('stale');
      expect(await admin.locator('dl.facts').innerText()).to.include('file /run/secrets/tls ← TLS_KEY');
      await expectAccessible(admin, 'job detail with a secret as a file');
      await shot(admin, '06d-job-secret-file-detail');
    });

    it('creates a job through the form: no secret picked twice, a live warning when a plain variable replaces one, shown on the job after a reload', async () => {
      await admin.getByRole('link', { name: 'Jobs' }).click();
      await admin.getByRole('heading', { name: 'Jobs' }).waitFor();
      await admin.getByRole('button', { name: 'New job' }).click();
      await admin.getByRole('heading', { name: 'New job' }).waitFor();
      await titled(admin, 'New job · vessl-secrets');
      const form = admin.getByRole('form', { name: 'New job' });
      await form.locator('input[name=name]').fill('web-job');
      await form.locator('textarea[name=command]').fill('echo "hf=$HF_TOKEN wandb=$WANDB_API_KEY hf_length=${#HF_TOKEN}"; sleep 30 & wait');
      // Checked in the browser by the shared rules, in words, at the row: no call is made.
      const creates = () => requests.filter((r) => r.url.endsWith('/CreateJob')).length;
      const before = creates();
      await form.getByLabel('Variable 1 name').fill('1WANDB');
      await form.getByRole('button', { name: 'Create job' }).click();
      await form.getByRole('alert').waitFor();
      expect(await form.getByRole('alert').getByRole('link').allInnerTexts()).to.deep.equal(['Variable 1']);
      expect(await form.locator('#env-0-error').innerText()).to.equal('Variable 1 name must be an environment variable name: letters, digits and "_", not starting with a digit');
      expect(await form.getByLabel('Variable 1 name').getAttribute('aria-invalid')).to.equal('true');
      expect(creates()).to.equal(before);
      await form.getByLabel('Variable 1 name').fill('WANDB_API_KEY');
      // Corrected: the message goes at once, before any submit.
      await form.locator('#env-0-error').waitFor({ state: 'detached' });
      expect(await form.getByRole('alert').count()).to.equal(0);
      await form.getByLabel('Variable 1 value').fill('plain-override');
      await form.getByLabel('Secret 1', { exact: true }).selectOption('HF_TOKEN');
      await form.getByRole('button', { name: 'Add secret' }).click();
      const offered = await form.getByLabel('Secret 2', { exact: true }).locator('option').allInnerTexts();
      expect(offered.some((o) => o.startsWith('HF_TOKEN'))).to.equal(false);
      await form.getByLabel('Secret 2', { exact: true }).selectOption('wandb');
      await form.locator('.shadow-warnings .warning').waitFor();
      expect(await form.locator('.shadow-warnings').innerText()).to.include('The plain variable WANDB_API_KEY replaces secret wandb');
      await expectAccessible(admin, 'new job');
      await shot(admin, '07-job-create');
      await form.getByRole('button', { name: 'Create job' }).click();

      const log = admin.getByTestId('job-log');
      await log.filter({ hasText: 'hf=***' }).waitFor({ timeout: 30_000 });
      jobId = decodeURIComponent(new URL(admin.url()).hash.replace('#/jobs/', ''));
      expect(jobId).to.match(/^j_[0-9a-f]{16}$/);
      // The plain variable won: the wandb secret was neither injected nor decrypted.
      expect((await log.innerText()).trim()).to.equal(`hf=*** wandb=plain-override hf_length=${HF_VALUE.length}`);
      await titled(admin, 'Job web-job · vessl-secrets');
      await admin.reload();
      await admin.locator('[data-attempt="1"] [data-overridden]').waitFor();
      expect(await admin.locator('[data-attempt="1"] [data-injected]').allInnerTexts()).to.deep.equal(['HF_TOKEN as HF_TOKEN, version 1']);
      expect(await admin.locator('[data-attempt="1"] [data-overridden]').allInnerTexts()).to.deep.equal(['wandb not injected: plain variable WANDB_API_KEY replaced it']);
      // An honest hint: what masking covers and what it cannot.
      expect(await admin.locator('p.hint').last().innerText()).to.include('cannot recognise a value the job changes');
    });

    it('rotates the value through Edit; a running attempt on the old value is flagged; Restart and Terminate ask first', async () => {
      await admin.goto(cs.web.url + SECRETS_ROUTE);
      await row(admin, 'HF_TOKEN').getByRole('button', { name: 'Edit' }).click();
      const form = dialog(admin, 'Edit HF_TOKEN');
      // A no-op edit says so in words.
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByRole('alert').filter({ hasText: 'Nothing changed' }).waitFor();
      await form.locator('textarea[name=value]').fill(HF_ROTATED);
      await form.locator('input[name=description]').fill('Hugging Face hub token, rotated');
      await expectAccessible(admin, 'edit dialog');
      await shot(admin, '08-edit-secret');
      await form.getByRole('button', { name: 'Save' }).click();
      await admin.getByRole('status').filter({ hasText: 'Updated secret HF_TOKEN: description, value changed (value version 2).' }).waitFor();
      expect(await row(admin, 'HF_TOKEN').locator('td').nth(4).innerText()).to.equal('Hugging Face hub token, rotated');
      expect(await row(admin, 'HF_TOKEN').locator('td').nth(3).innerText()).to.equal('2');
      expect(await focused(admin)).to.equal('BUTTON Edit HF_TOKEN');

      await admin.goto(`${cs.web.url}#/jobs/${jobId}`);
      await admin.locator('.badge.stale').filter({ hasText: 'stale: now version 2' }).waitFor();
      // Attempt 1 still runs (it sleeps): the stale banner is for running attempts.
      await admin.locator('.stale-note').waitFor();
      await shot(admin, '09-job-stale');
      const terminate = admin.getByRole('button', { name: 'Terminate', exact: true });
      await terminate.click();
      const confirmTerminate = dialog(admin, `Terminate web-job?`);
      await confirmTerminate.waitFor();
      expect(await focused(admin)).to.equal('BUTTON Cancel');
      await expectAccessible(admin, 'terminate dialog');
      await admin.keyboard.press('Escape');
      await confirmTerminate.waitFor({ state: 'detached' });
      expect(await focused(admin)).to.equal('BUTTON Terminate');
      expect(await admin.locator('.state').first().innerText()).to.equal('running');

      await admin.getByRole('button', { name: 'Restart', exact: true }).click();
      const confirmRestart = dialog(admin, 'Restart web-job?');
      expect(await confirmRestart.innerText()).to.include('The running attempt is stopped, and a new attempt 2 starts');
      await expectAccessible(admin, 'restart dialog');
      await shot(admin, '10-restart-confirm');
      await confirmRestart.getByRole('button', { name: 'Restart job' }).click();
      await admin.getByTestId('job-log').filter({ hasText: `hf_length=${HF_ROTATED.length}` }).waitFor({ timeout: 30_000 });
      expect(await admin.locator('[data-attempt="2"] [data-injected]').allInnerTexts()).to.deep.equal(['HF_TOKEN as HF_TOKEN, version 2']);
      // Attempt 1 keeps its mark (it ran on version 1); the latest attempt is current.
      expect(await admin.locator('[data-attempt="1"] .badge.stale').count()).to.equal(1);
      expect(await admin.locator('[data-attempt="2"] .badge.stale').count()).to.equal(0);
      expect(await admin.locator('.stale-note').count()).to.equal(0);

      // Every attempt's log can be opened.
      await admin.locator('select[name=log-attempt]').selectOption('1');
      await admin.getByTestId('job-log').filter({ hasText: `hf_length=${HF_VALUE.length}` }).waitFor();
      await admin.getByRole('button', { name: 'Terminate', exact: true }).click();
      await dialog(admin, 'Terminate web-job?').getByRole('button', { name: 'Terminate job' }).click();
      await admin.locator('.state').filter({ hasText: 'cancelled' }).first().waitFor({ timeout: 30_000 });
      await expectAccessible(admin, 'job detail');
      await shot(admin, '11-job-detail');
    });

    it('lists the job in Jobs, with relative times', async () => {
      await admin.getByRole('link', { name: 'Jobs' }).click();
      await admin.locator(`tr[data-job="${jobId}"]`).waitFor();
      expect(await admin.locator(`tr[data-job="${jobId}"]`).innerText()).to.include('web-job');
      expect(await admin.locator(`tr[data-job="${jobId}"] time`).getAttribute('title')).to.match(/\d{4}/);
      await titled(admin, 'Jobs · vessl-secrets');
      await expectAccessible(admin, 'jobs list');
      await shot(admin, '12-jobs');
    });

    it('deletes a secret in a dialog that takes the focus, keeps it, closes on Escape and gives it back', async () => {
      await admin.getByRole('link', { name: 'Secrets' }).click();
      const trigger = row(admin, 'wandb').getByRole('button', { name: 'Delete' });
      await trigger.click();
      const confirm = dialog(admin, 'Delete wandb?');
      await confirm.waitFor();
      expect(await focused(admin)).to.equal('BUTTON Cancel');
      for (const key of ['Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
        await admin.keyboard.press(key);
        expect(await admin.evaluate<boolean>('document.activeElement.closest("dialog") !== null'), `focus stays in the dialog after ${key}`).to.equal(true);
      }
      await expectAccessible(admin, 'delete dialog');
      await shot(admin, '13-delete-confirm');
      await admin.keyboard.press('Escape');
      await confirm.waitFor({ state: 'detached' });
      expect(await focused(admin)).to.equal('BUTTON Delete wandb');

      await trigger.click();
      await confirm.getByRole('button', { name: 'Delete wandb' }).click();
      await admin.getByRole('status').filter({ hasText: 'Deleted secret wandb' }).waitFor();
      await row(admin, 'wandb').waitFor({ state: 'detached' });
      // Its trigger is gone with the row: focus goes to the page heading, not the body.
      expect(await focused(admin)).to.equal('H1 Secrets');
      await admin.getByLabel('Show deleted').check();
      await row(admin, 'wandb').waitFor();
      expect(await row(admin, 'wandb').innerText()).to.include('deleted');
      await expectAccessible(admin, 'secrets with deleted');
      await shot(admin, '13-secrets-deleted');
      await admin.getByLabel('Show deleted').uncheck();
    });

    it('says when a secret the job references is gone, and clones the job without it', async () => {
      await admin.goto(`${cs.web.url}#/jobs/${jobId}`);
      const note = admin.locator('.warning').filter({ hasText: 'Secret wandb was deleted, so a restart would fail.' });
      await note.waitFor();
      await admin.getByRole('button', { name: 'Restart', exact: true }).click();
      await dialog(admin, 'Restart web-job?').getByRole('button', { name: 'Restart job' }).click();
      const refused = admin.getByRole('alert');
      await refused.waitFor();
      expect(await refused.innerText()).to.match(/^Secret "wandb" not found.* clone the job and pick another secret\.$/);
      // No "Restart to run with the current value" beside it.
      expect(await admin.locator('.stale-note').count()).to.equal(0);
      await expectAccessible(admin, 'job with a deleted secret');
      await shot(admin, '14-job-secret-gone');
      await note.getByRole('button', { name: 'Clone job' }).click();
      const form = admin.getByRole('form', { name: 'New job' });
      await form.waitFor();
      expect(await form.locator('input[name=name]').inputValue()).to.equal('web-job');
      expect(await form.getByLabel('Variable 1 name').inputValue()).to.equal('WANDB_API_KEY');
      expect(await form.getByLabel('Secret 1', { exact: true }).inputValue()).to.equal('HF_TOKEN');
      expect(await form.getByLabel('Secret 2', { exact: true }).inputValue()).to.equal('');
      await shot(admin, '14-job-clone');
      await admin.getByRole('link', { name: 'Secrets' }).click();
      await admin.getByRole('heading', { name: 'Secrets' }).waitFor();
    });

    it('runs axe-core for real: a page with a nameless button fails the check', async () => {
      const page = await (await browser.newContext()).newPage();
      await page.goto(cs.web.url);
      await page.locator('textarea[name=token]').waitFor();
      await page.evaluate(`document.querySelector('form').append(document.createElement('button'))`);
      expect((await seriousViolations(page)).map((v) => v.id)).to.include('button-name');
      await page.context().close();
    });

    it('pages a long list (Load more), searches it, and opens Edit of the last row in the viewport', async () => {
      const secrets = cs.sys.secrets(await cs.sys.token('admin'));
      const sealed = await cs.sys.seal('bulk-value-0000', 'acme');
      const names = Array.from({ length: 60 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
      await secrets.batchCreateSecrets({ org: 'acme', requests: names.map((name, i) => ({ org: '', secret: { name, key: `BULK_${i}`, description: '' } as Secret, value: sealed })) });
      await admin.reload();
      await row(admin, 'bulk-000').waitFor();
      const loadMore = admin.getByRole('button', { name: 'Load more secrets' });
      await loadMore.waitFor();
      const firstPage = await admin.locator('tr[data-secret]').count();
      expect(firstPage).to.equal(50);
      await loadMore.click();
      await loadMore.waitFor({ state: 'detached' });
      const live = (await secrets.listSecrets({ org: 'acme', pageSize: 1000, pageToken: '', showDeleted: false })).secrets.length;
      expect(live).to.be.greaterThan(60);
      expect(await admin.locator('tr[data-secret]').count()).to.equal(live);
      await admin.getByLabel('Search').fill('bulk-05');
      expect(await admin.locator('tr[data-secret]').count()).to.equal(10);
      await admin.getByLabel('Search').fill('');
      const last = row(admin, 'bulk-059');
      await last.getByRole('button', { name: 'Edit' }).click();
      const edit = dialog(admin, 'Edit bulk-059');
      await edit.waitFor();
      const box = (await edit.boundingBox())!;
      expect(box.y).to.be.at.least(0);
      expect(box.y + box.height).to.be.at.most(860);
      await shot(admin, '15-edit-last-row');
      await admin.keyboard.press('Escape');
      await edit.waitFor({ state: 'detached' });
    });

    it('pages the jobs list (Load more)', async () => {
      const jobs = cs.sys.jobs(await cs.sys.token('member'));
      const before = (await jobs.listJobs({ org: 'acme', pageSize: 1000, pageToken: '', state: 0, secretName: '' })).jobs.length;
      for (let i = before; i <= 50; i++) await jobs.createJob({ org: 'acme', job: { name: `quick-${i}`, image: 'busybox', command: 'true', env: [], secrets: [] } as unknown as Job });
      const total = (await jobs.listJobs({ org: 'acme', pageSize: 1000, pageToken: '', state: 0, secretName: '' })).jobs.length;
      expect(total).to.equal(Math.max(before, 51));
      await admin.goto(`${cs.web.url}#/jobs`);
      const loadMore = admin.getByRole('button', { name: 'Load more jobs' });
      await loadMore.waitFor();
      expect(await admin.locator('tr[data-job]').count()).to.equal(50);
      await loadMore.click();
      await loadMore.waitFor({ state: 'detached' });
      expect(await admin.locator('tr[data-job]').count()).to.equal(total);
      await admin.goto(cs.web.url + SECRETS_ROUTE);
      await admin.getByRole('heading', { name: 'Secrets' }).waitFor();
    });

    it('shows a member no admin actions, and the server refuses the member who forces one', async () => {
      const memberContext = await recordingContext(browser, requests);
      const member = await memberContext.newPage();
      const memberToken = await cs.sys.token('member', { subject: 'max' });
      await logInThroughForm(member, cs.web.url, memberToken);
      await row(member, 'HF_TOKEN').waitFor();
      expect(await member.getByTestId('who').innerText()).to.match(/max\s+member/);
      expect(await member.getByRole('button', { name: 'New secret' }).count()).to.equal(0);
      expect(await member.getByRole('button', { name: /Edit|Delete/ }).count()).to.equal(0);
      await expectAccessible(member, 'secrets as a member');
      await shot(member, '16-secrets-member');
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

    it('believes no token it cannot verify: a member token edited to say admin is refused at login, drawing nothing', async () => {
      const context = await recordingContext(browser, requests);
      const page = await context.newPage();
      const [header, payload, signature] = (await cs.sys.token('member', { subject: 'max' })).split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const forged = [header, Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url'), signature].join('.');
      await page.goto(cs.web.url);
      await page.locator('textarea[name=token]').fill(forged);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('#token-error').waitFor();
      expect(await page.locator('#token-error').innerText()).to.equal('Access token was not accepted: invalid token.');
      expect(await page.locator('textarea[name=token]').getAttribute('aria-invalid')).to.equal('true');
      expect(await page.getByRole('button', { name: 'New secret' }).count()).to.equal(0);
      expect(await page.locator('nav').count()).to.equal(0);
      expect(await page.evaluate<number>('sessionStorage.length')).to.equal(0);
      await expectAccessible(page, 'login with error');
      await shot(page, '17-forged-token');

      // Genuine tokens of people or services the console is not for: refused in words, nothing kept.
      for (const [role, why] of [
        ['operator', "That token's role (operator) has no access to an org's secrets"],
        ['service', 'the web console is for people'],
      ] as const) {
        await page.locator('textarea[name=token]').fill(await cs.sys.token(role, role === 'service' ? { subject: 'svc:job-launcher' } : {}));
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.locator('#token-error').filter({ hasText: why }).waitFor();
        expect(await page.locator('nav').count()).to.equal(0);
        expect(await page.evaluate<number>('sessionStorage.length')).to.equal(0);
      }
      await context.close();
    });

    it('returns to login saying "Session expired" when the server stops accepting the token, and back to the same page after', async () => {
      const context = await recordingContext(browser, requests);
      const page = await context.newPage();
      await logInThroughForm(page, cs.web.url, await cs.sys.token('admin', { subject: 'ada' }));
      await row(page, 'HF_TOKEN').waitFor();
      // The tab's token runs out (an expired one takes its place), then the user moves on.
      const expired = await cs.sys.token('admin', { subject: 'ada', ttlSeconds: -60 });
      await page.evaluate(`sessionStorage.setItem('vessl.token', ${JSON.stringify(expired)})`);
      await page.getByRole('link', { name: 'Jobs' }).click();
      await page.getByTestId('session-notice').waitFor();
      expect(await page.getByTestId('session-notice').innerText()).to.match(/^Session expired/);
      expect(new URL(page.url()).hash).to.equal('#/jobs');
      expect(await page.locator('nav').count()).to.equal(0);
      expect(await focused(page)).to.equal('TEXTAREA token');
      await expectAccessible(page, 'session expired');
      await shot(page, '18-session-expired');
      await page.locator('textarea[name=token]').fill(await cs.sys.token('admin', { subject: 'ada' }));
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Jobs' }).waitFor();

      // A reload with an expired token never shows the old page either.
      await page.evaluate(`sessionStorage.setItem('vessl.token', ${JSON.stringify(expired)})`);
      await page.reload();
      await page.getByTestId('session-notice').waitFor();
      expect(new URL(page.url()).hash).to.equal('#/jobs');

      // A token that runs out while its page makes no call: the console ends the session at its exp.
      // The page's clock is the test's to move (no waiting out a real expiry on a loaded machine).
      await page.clock.install();
      await page.locator('textarea[name=token]').fill(await cs.sys.token('admin', { subject: 'ada', ttlSeconds: 120 }));
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Jobs' }).waitFor();
      expect(await page.getByTestId('session-notice').count(), 'still in before the expiry').to.equal(0);
      await page.clock.fastForward(121_000);
      await page.getByTestId('session-notice').waitFor();
      expect(await page.locator('nav').count()).to.equal(0);
      await context.close();
    });

    it('keeps the token when the server cannot be reached on a reload, and Retry logs back in', async () => {
      const context = await recordingContext(browser, requests);
      const page = await context.newPage();
      await logInThroughForm(page, cs.web.url, await cs.sys.token('admin', { subject: 'ada' }));
      await row(page, 'HF_TOKEN').waitFor();
      // WhoAmI cannot get through while the page reloads (the server restarting, a network blip).
      const whoAmI = '**/api/vessl.secrets.v1.SecretService/WhoAmI';
      await page.route(whoAmI, (route) => route.abort('connectionrefused'));
      await page.reload();
      await page.getByTestId('session-notice').waitFor();
      expect(await page.getByTestId('session-notice').innerText()).to.match(/cannot reach the server/);
      expect(await page.evaluate<string | null>("sessionStorage.getItem('vessl.token')"), 'the token stays in the tab').to.not.equal(null);
      await expectAccessible(page, 'login, server unreachable');
      await page.unroute(whoAmI);
      await page.getByTestId('session-notice').getByRole('button', { name: 'Retry' }).click();
      await row(page, 'HF_TOKEN').waitFor();
      await context.close();
    });

    it('fits a phone (360x740): the sidebar is a menu, lists are cards, long text wraps, dialogs fit', async () => {
      const secrets = cs.sys.secrets(await cs.sys.token('admin'));
      await secrets.createSecret({ org: 'acme', secret: { name: 'LONG_DESCRIPTION', key: 'LONG_DESCRIPTION', description: 'x'.repeat(1000) } as Secret, value: await cs.sys.seal('long-value-0000', 'acme') });
      await secrets.createSecret({ org: 'acme', secret: { name: 'HUGGINGFACE_TOKEN_STAGING_FOR_PHONES', key: 'HUGGINGFACE_TOKEN_STAGING_FOR_PHONES' } as Secret, value: await cs.sys.seal('phone-value-0000', 'acme') });
      const PHONE = 360;
      const context = await browser.newContext({ viewport: { width: PHONE, height: 740 }, isMobile: true, hasTouch: true });
      const phone = await context.newPage();
      await logInThroughForm(phone, cs.web.url, await cs.sys.token('admin', { subject: 'ada' }));
      await row(phone, 'LONG_DESCRIPTION').waitFor();
      const width = () => phone.evaluate<number>('document.documentElement.scrollWidth');
      expect(await width(), 'no sideways scrolling').to.be.at.most(PHONE);
      expect(await phone.locator('#site-nav').isVisible()).to.equal(false);
      const edit = row(phone, 'HF_TOKEN').getByRole('button', { name: 'Edit' });
      const editBox = (await edit.boundingBox())!;
      expect(editBox.x + editBox.width, 'Edit within the screen').to.be.at.most(PHONE);
      await expectAccessible(phone, 'phone secrets');
      await shot(phone, '19-phone-secrets', false);
      await row(phone, 'LONG_DESCRIPTION').scrollIntoViewIfNeeded();
      await shot(phone, '19-phone-long-text', false);

      const menu = phone.getByRole('button', { name: 'Menu' });
      await menu.click();
      expect(await menu.getAttribute('aria-expanded')).to.equal('true');
      await phone.locator('#site-nav').getByRole('link', { name: 'Jobs' }).waitFor();
      await shot(phone, '20-phone-menu', false);
      await phone.locator('#site-nav').getByRole('link', { name: 'Jobs' }).click();
      await phone.getByRole('heading', { name: 'Jobs' }).waitFor();
      expect(await phone.locator('#site-nav').isVisible(), 'the menu closes on navigation').to.equal(false);
      expect(await width()).to.be.at.most(PHONE);
      await shot(phone, '21-phone-jobs', false);

      await phone.goto(`${cs.web.url}#/jobs/${jobId}`);
      await phone.getByTestId('job-log').waitFor();
      expect(await width()).to.be.at.most(PHONE);
      await expectAccessible(phone, 'phone job detail');
      await shot(phone, '22-phone-job', false);

      // The New job form with a secret of a long (ordinary) name, given as a file.
      await phone.goto(`${cs.web.url}#/jobs/new`);
      const form = phone.getByRole('form', { name: 'New job' });
      const picker = form.getByLabel('Secret 1', { exact: true });
      await picker.locator('option[value=HUGGINGFACE_TOKEN_STAGING_FOR_PHONES]').waitFor({ state: 'attached' });
      await picker.selectOption('HUGGINGFACE_TOKEN_STAGING_FOR_PHONES');
      await form.getByLabel('Secret 1 given as').selectOption('file');
      await form.getByLabel('Secret 1 file path').waitFor();
      expect(await width(), 'the New job form fits too').to.be.at.most(PHONE);
      await expectAccessible(phone, 'phone new job');
      await shot(phone, '22b-phone-new-job', false);

      await phone.goto(cs.web.url + SECRETS_ROUTE);
      await row(phone, 'HF_TOKEN').getByRole('button', { name: 'Edit' }).click();
      const dialogBox = (await dialog(phone, 'Edit HF_TOKEN').boundingBox())!;
      expect(dialogBox.x).to.be.at.least(0);
      expect(dialogBox.x + dialogBox.width).to.be.at.most(PHONE);
      await expectAccessible(phone, 'phone edit dialog');
      await shot(phone, '23-phone-edit', false);
      await context.close();
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
