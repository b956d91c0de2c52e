import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { Secret } from '../services/gen/vessl/secrets/v1/secrets.js';
import { describedBy, dialog, expectAccessible, focused, launchChromium, logInThroughForm, pageWidth, recordingContext, SCREENSHOTS, titled, type RecordedRequest } from './support/browser.js';
import { hits } from './support/plaintext.js';
import { engines } from './support/postgres.js';
import { postApi, requireBuiltConsole, startConsoleSystem, type ConsoleSystem } from './support/web-console.js';

/** The secrets' values: none may leave the server, through the console or anywhere else. */
const HF_VALUE = 'hf_workspace_console_value_R7t';
const HF_ROTATED = 'hf_workspace_console_rotated_Zq2';
const TLS_VALUE = '-----BEGIN PRIVATE KEY-----\nd29ya3NwYWNlLWNvbnNvbGUtdGxz\n-----END PRIVATE KEY-----\n';
const TLS_ROTATED = '-----BEGIN PRIVATE KEY-----\ncm90YXRlZC13b3Jrc3BhY2UtdGxz\n-----END PRIVATE KEY-----\n';
const OLD_CERT_VALUE = 'old_cert_workspace_console_Hx8';
const PLAINTEXTS = [HF_VALUE, HF_ROTATED, TLS_VALUE, TLS_ROTATED, OLD_CERT_VALUE];

const WORKSPACES = '/vessl.jobs.v1.WorkspaceService';
const NEW_WORKSPACE = '#/workspaces/-/new';

const listed = (page: Page) => page.locator('tr[data-workspace]');
const listRow = (page: Page, name: string) => page.locator(`tr[data-workspace="${name}"]`);
const held = (page: Page, secret: string) => page.locator(`li[data-held="${secret}"]`);
const heading = (page: Page) => page.locator('main h1');
/** Waits until the workspace's page says it is in `state` (it polls while the workspace starts or runs). */
const inState = (page: Page, state: string) => heading(page).locator('.state').filter({ hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: 30_000 });

for (const engine of engines()) {
  describe(`the web console's Workspaces pages in headless Chromium (${engine.name})`, function () {
    this.timeout(120_000);
    let cs: ConsoleSystem;
    let chromiumProcess: Awaited<ReturnType<typeof launchChromium>> | undefined;
    let browser: Browser;
    const requests: RecordedRequest[] = [];
    const contexts: BrowserContext[] = [];
    /** max, a member, who creates his workspace through the form. */
    let max: Page;
    /** ada, an admin of the org. */
    let ada: Page;
    let maxToken = '';
    /** When run 1 wrote TLS_KEY's file (its first version), as the page shows it. */
    let tlsWrittenAt = '';
    let miaToken = '';

    const shot = async (page: Page, name: string, fullPage = true) => {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${engine.name}-workspaces-${name}.png`), fullPage });
    };
    const newPage = async (token: string) => {
      const context = await recordingContext(browser, requests);
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cs.web.url.replace(/\/$/, '') });
      contexts.push(context);
      const page = await context.newPage();
      await logInThroughForm(page, cs.web.url, token);
      return page;
    };
    const creates = () => requests.filter((r) => r.url.endsWith(`${WORKSPACES}/CreateWorkspace`)).length;
    /** A fresh New workspace form (reloaded: going to the route it is on would keep what was typed). */
    const openForm = async (page: Page) => {
      await page.goto(`${cs.web.url}${NEW_WORKSPACE}`);
      await page.reload();
      const form = page.getByRole('form', { name: 'New workspace' });
      await form.getByLabel('Secret 1', { exact: true }).locator('option[value=TLS_KEY]').waitFor({ state: 'attached' });
      return form;
    };

    before(async () => {
      requireBuiltConsole();
      mkdirSync(SCREENSHOTS, { recursive: true });
      chromiumProcess = await launchChromium();
      browser = chromiumProcess.browser;
      cs = await startConsoleSystem({ databaseUrl: await engine.freshUrl() });
      const secrets = cs.sys.secrets(await cs.sys.token('admin'));
      for (const [name, value] of [
        ['HF_TOKEN', HF_VALUE],
        ['TLS_KEY', TLS_VALUE],
        ['OLD_CERT', OLD_CERT_VALUE],
      ]) {
        await secrets.createSecret({ org: 'acme', secret: { name, key: name } as Secret, value: await cs.sys.seal(value, 'acme') });
      }
      maxToken = await cs.sys.token('member', { subject: 'max' });
      miaToken = await cs.sys.token('member', { subject: 'mia' });
      max = await newPage(maxToken);
      ada = await newPage(await cs.sys.token('admin', { subject: 'ada' }));
    });
    after(async () => {
      for (const context of contexts) await context.close();
      await chromiumProcess?.close();
      await cs?.stop();
      await engine.cleanup();
    });

    it('has a Workspaces entry in the menu; the empty list says whose workspaces it shows', async () => {
      expect(await max.locator('nav').innerText()).to.match(/Workloads\s*Jobs\s*Workspaces/i);
      await max.locator('nav').getByRole('link', { name: 'Workspaces' }).click();
      await max.getByRole('heading', { name: 'Workspaces' }).waitFor();
      await titled(max, 'Workspaces · vessl-secrets');
      expect(await focused(max)).to.equal('H1 Workspaces');
      await max.locator('td.empty').filter({ hasText: 'No workspaces yet.' }).waitFor();
      expect(await max.getByRole('alert').count(), 'the list was answered').to.equal(0);
      expect(await max.getByTestId('whose').innerText()).to.match(/^Your workspaces in org acme: each member sees only their own\./);
      expect(await max.locator('nav a[aria-current=page]').innerText()).to.equal('Workspaces');
      await expectAccessible(max, 'empty workspaces list');
      await shot(max, '01-empty');
    });

    // Each row: what is typed (in a fresh form), the field the browser puts its message at, and the message.
    const badInputs: { name: string; fill: (form: Locator) => Promise<void>; field: string; message: string }[] = [
      { name: 'a name with a leading dash', fill: (f) => f.locator('input[name=name]').fill('-dev'), field: 'workspace-name', message: 'Name must start with a letter or digit' },
      { name: 'no name', fill: (f) => f.locator('input[name=name]').fill(''), field: 'workspace-name', message: 'Name is required' },
      { name: 'an image with a space', fill: (f) => f.locator('input[name=image]').fill('python 3.12'), field: 'workspace-image', message: 'Image must be an image reference such as python:3.12, without spaces' },
      { name: 'a command of only spaces', fill: (f) => f.locator('textarea[name=command]').fill('   '), field: 'workspace-command', message: 'Command is only spaces: give the command to run' },
      { name: 'a variable name starting with a digit', fill: (f) => f.getByLabel('Variable 1 name').fill('1MODE'), field: 'env-0-name', message: 'Variable 1 name must be an environment variable name' },
      {
        name: 'a secret as the variable PATH',
        fill: async (f) => {
          await f.getByLabel('Secret 1', { exact: true }).selectOption('HF_TOKEN');
          await f.getByLabel('Secret 1 variable name').fill('PATH');
        },
        field: 'secret-0-env',
        message: 'Secret 1 variable name: PATH decides which program',
      },
      {
        name: 'a file path with a ".." segment',
        fill: async (f) => {
          await f.getByLabel('Secret 1', { exact: true }).selectOption('TLS_KEY');
          await f.getByLabel('Secret 1 given as').selectOption('file');
          await f.getByLabel('Secret 1 file path').fill('/run/secrets/../etc/tls');
        },
        field: 'secret-0-path',
        message: 'Secret 1 file path: "/run/secrets/../etc/tls" has a "." or ".." segment',
      },
      {
        name: 'a file with no path',
        fill: async (f) => {
          await f.getByLabel('Secret 1', { exact: true }).selectOption('TLS_KEY');
          await f.getByLabel('Secret 1 given as').selectOption('file');
          await f.getByLabel('Secret 1 file path').fill('');
        },
        field: 'secret-0-path',
        message: 'Secret 1 file path is required: give the path of the file, or pick "as variable"',
      },
    ];
    for (const bad of badInputs) {
      it(`refuses ${bad.name} in the browser, at its field, by the job launcher's rules, with no request`, async () => {
        const form = await openForm(max);
        await form.locator('input[name=name]').fill('dev');
        await bad.fill(form);
        const before = creates();
        await form.getByRole('button', { name: 'Create workspace' }).click();
        const summary = form.getByRole('alert');
        await summary.waitFor();
        expect(await focused(max), 'the summary takes the focus').to.match(/^DIV Please correct this field:/);
        expect(await max.locator(`#${bad.field}`).getAttribute('aria-invalid')).to.equal('true');
        expect(await describedBy(max, bad.field)).to.include(bad.message);
        expect((await form.innerText()).split(bad.message), 'said once, at its field').to.have.length(2);
        expect(creates(), 'refused in the browser, no call').to.equal(before);
      });
    }

    it('shows the server’s refusal of a file path outside its roots at the field, and takes an empty command', async () => {
      const form = await openForm(max);
      await form.locator('input[name=name]').fill('dev');
      await form.getByLabel('Secret 1', { exact: true }).selectOption('TLS_KEY');
      await form.getByLabel('Secret 1 given as').selectOption('file');
      await form.getByLabel('Secret 1 file path').fill('/etc/tls.pem');
      const before = creates();
      await form.getByRole('button', { name: 'Create workspace' }).click();
      await form.locator('#secret-0-path-error').filter({ hasText: 'is not under' }).waitFor();
      expect(creates(), 'only the server knows its backend’s roots').to.equal(before + 1);
      expect(await form.locator('#secret-0-path-error').innerText()).to.match(/^Secret 1 file path: "\/etc\/tls\.pem" is not under \/run\/secrets\//);
      expect(await max.locator('#workspace-command').getAttribute('aria-invalid'), 'an empty command is allowed').to.equal(null);
      await expectAccessible(max, 'new workspace with a server refusal');
      await shot(max, '02-form-server-refusal');
    });

    it('creates a workspace through the form with a variable, a variable secret and a file secret; its page shows the run’s secrets and how to connect', async () => {
      const form = await openForm(max);
      expect(await max.title()).to.equal('New workspace · vessl-secrets');
      await form.locator('input[name=name]').fill('max-dev');
      await form.getByLabel('Variable 1 name').fill('MODE');
      await form.getByLabel('Variable 1 value').fill('dev');
      await form.getByLabel('Secret 1', { exact: true }).selectOption('HF_TOKEN');
      await form.getByRole('button', { name: 'Add secret' }).click();
      await form.getByLabel('Secret 2', { exact: true }).selectOption('TLS_KEY');
      await form.getByLabel('Secret 2 given as').selectOption('file');
      expect(await form.getByLabel('Secret 2 file path').inputValue(), 'suggested from the secret picked').to.equal('/run/secrets/TLS_KEY');
      await form.getByLabel('Secret 2 file path').fill('/run/secrets/tls');
      await expectAccessible(max, 'new workspace');
      await shot(max, '03-form');
      await form.getByRole('button', { name: 'Create workspace' }).click();

      await max.waitForURL(/#\/workspaces\/max-dev$/);
      await inState(max, 'running');
      expect(await max.title()).to.equal('Workspace max-dev · vessl-secrets');
      const sent = JSON.parse(requests.filter((r) => r.url.endsWith(`${WORKSPACES}/CreateWorkspace`)).at(-1)!.body) as { org: string; workspace: unknown };
      expect(sent).to.deep.equal({
        org: 'acme',
        workspace: {
          name: 'max-dev',
          image: 'python:3.12',
          command: '',
          env: [{ name: 'MODE', value: 'dev' }],
          secrets: [
            { secretName: 'HF_TOKEN', envName: '', filePath: '' },
            { secretName: 'TLS_KEY', envName: '', filePath: '/run/secrets/tls' },
          ],
        },
      });
      expect(await max.getByTestId('run').innerText()).to.equal('1');
      expect(await held(max, 'HF_TOKEN').innerText()).to.equal('HF_TOKEN ← HF_TOKEN v1');
      expect(await held(max, 'TLS_KEY').innerText()).to.match(/^\/run\/secrets\/tls ← TLS_KEY v1 refreshed at .*\d/);
      tlsWrittenAt = (await held(max, 'TLS_KEY').locator('time').getAttribute('datetime')) ?? '';
      expect(await max.locator('.badge.stale').count()).to.equal(0);
      expect(await max.locator('dl.facts').innerText()).to.include('none: it idles until stopped');

      // The connect command, copied to the clipboard with one click.
      expect(await max.getByTestId('shell-command').innerText()).to.equal('vesslctl workspace shell max-dev');
      await max.getByRole('button', { name: 'Copy the connect command' }).click();
      await max.getByRole('status').filter({ hasText: 'Copied the command.' }).waitFor();
      expect(await max.evaluate<string>('navigator.clipboard.readText()')).to.equal('vesslctl workspace shell max-dev');
      await expectAccessible(max, 'workspace page');
      await shot(max, '04-detail');

      // The name is taken now: the server's answer lands at the Name field.
      const again = await openForm(max);
      await again.locator('input[name=name]').fill('max-dev');
      await again.getByRole('button', { name: 'Create workspace' }).click();
      await max.locator('#workspace-name-error').waitFor();
      expect(await max.locator('#workspace-name-error').innerText()).to.match(/max-dev/);
      expect(await max.locator('#workspace-name').getAttribute('aria-invalid')).to.equal('true');
    });

    it('lists a member’s own workspaces only, and an admin’s the org’s, with state, owner and age', async () => {
      const created = await postApi(cs.web, `${WORKSPACES}/CreateWorkspace`, JSON.stringify({ org: 'acme', workspace: { name: 'mia-dev', image: 'python:3.12', secrets: [{ secretName: 'OLD_CERT', filePath: '/run/secrets/old' }] } }), { token: miaToken });
      expect(created.status, created.text).to.equal(200);

      await max.goto(`${cs.web.url}#/workspaces`);
      await listRow(max, 'max-dev').waitFor();
      expect(await listed(max).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-workspace')))).to.deep.equal(['max-dev']);
      const cells = await listRow(max, 'max-dev').locator('td').allInnerTexts();
      expect(cells.slice(0, 3)).to.deep.equal(['max-dev', 'running', 'max']);
      expect(cells[3]).to.match(/^(just now|\d+ seconds? ago|1 minute ago)$/);
      // The server decides: max asking for mia's workspace by its address is refused, in words.
      await max.goto(`${cs.web.url}#/workspaces/mia-dev`);
      await max.getByRole('alert').waitFor();
      expect(await max.locator('dl.facts').count()).to.equal(0);

      await ada.goto(`${cs.web.url}#/workspaces`);
      await listRow(ada, 'mia-dev').waitFor();
      expect(await listed(ada).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-workspace')))).to.have.members(['max-dev', 'mia-dev']);
      expect(await ada.getByTestId('whose').innerText()).to.match(/^Every workspace in org acme \(you are an admin\)\./);
      await expectAccessible(ada, 'workspaces list as an admin');
      await shot(ada, '05-list-admin');

      // An admin may look at and stop another's workspace, but not enter it.
      await listRow(ada, 'max-dev').getByRole('link', { name: 'max-dev' }).click();
      await inState(ada, 'running');
      expect(await ada.getByTestId('shell-command').count()).to.equal(0);
      expect(await ada.locator('main header button').allInnerTexts(), 'an admin may stop and delete it').to.deep.equal(['Stop', 'Delete']);
      expect(await ada.locator('.connect').innerText()).to.equal('Only its owner, max, can open a terminal in it.');
    });

    it('marks the variable stale after a rotation, and shows the file refreshed in the running workspace, or removed when its secret is deleted', async () => {
      const secrets = cs.sys.secrets(await cs.sys.token('admin'));
      await secrets.updateSecret({ org: 'acme', secret: { name: 'HF_TOKEN' } as Secret, updateMask: ['value'], value: await cs.sys.seal(HF_ROTATED, 'acme') });
      await secrets.updateSecret({ org: 'acme', secret: { name: 'TLS_KEY' } as Secret, updateMask: ['value'], value: await cs.sys.seal(TLS_ROTATED, 'acme') });
      await secrets.deleteSecret({ org: 'acme', name: 'OLD_CERT' });

      await max.goto(`${cs.web.url}#/workspaces/max-dev`);
      // The page follows the running workspace: no reload needed.
      await held(max, 'HF_TOKEN').locator('.badge.stale').filter({ hasText: 'stale: restart to refresh (now v2)' }).waitFor({ timeout: 30_000 });
      await held(max, 'TLS_KEY').filter({ hasText: 'TLS_KEY v2' }).waitFor({ timeout: 30_000 });
      expect(await held(max, 'HF_TOKEN').innerText()).to.equal('HF_TOKEN ← HF_TOKEN v1 stale: restart to refresh (now v2)');
      expect(await held(max, 'TLS_KEY').innerText()).to.match(/^\/run\/secrets\/tls ← TLS_KEY v2 refreshed at /);
      expect(await held(max, 'TLS_KEY').locator('.badge').count(), 'a file is never stale while it runs').to.equal(0);
      const rewrittenAt = (await held(max, 'TLS_KEY').locator('time').getAttribute('datetime')) ?? '';
      expect(Date.parse(rewrittenAt), 'rewritten after run 1 first wrote it').to.be.greaterThan(Date.parse(tlsWrittenAt));
      expect(await max.locator('.stale-note').innerText()).to.include('(HF_TOKEN)');
      await expectAccessible(max, 'workspace with a stale variable');
      await shot(max, '06-stale-refreshed');

      // mia's workspace held OLD_CERT as a file: the admin sees it removed from the running workspace.
      await ada.goto(`${cs.web.url}#/workspaces/mia-dev`);
      await held(ada, 'OLD_CERT').locator('.badge.stale').filter({ hasText: 'removed (secret deleted)' }).waitFor({ timeout: 30_000 });
      expect(await held(ada, 'OLD_CERT').innerText()).to.equal('/run/secrets/old ← OLD_CERT v1 removed (secret deleted)');
      await expectAccessible(ada, 'workspace with a removed file');
      await shot(ada, '06b-removed-file');
    });

    it('fits a phone (360 px): the list as cards, the page, the form and a dialog without sideways scrolling', async () => {
      const PHONE = 360;
      const context = await browser.newContext({ viewport: { width: PHONE, height: 740 }, isMobile: true, hasTouch: true });
      contexts.push(context);
      const phone = await context.newPage();
      await logInThroughForm(phone, cs.web.url, maxToken);
      await phone.goto(`${cs.web.url}#/workspaces`);
      await listRow(phone, 'max-dev').waitFor();
      expect(await pageWidth(phone), 'no sideways scrolling').to.be.at.most(PHONE);
      expect(await phone.evaluate<string>(`getComputedStyle(document.querySelector('tr[data-workspace="max-dev"] td')).display`), 'a card: each cell labelled').to.equal('grid');
      await expectAccessible(phone, 'phone workspaces list');
      await shot(phone, '07-phone-list', false);

      await listRow(phone, 'max-dev').getByRole('link', { name: 'max-dev' }).click();
      await inState(phone, 'running');
      expect(await pageWidth(phone)).to.be.at.most(PHONE);
      await expectAccessible(phone, 'phone workspace page');
      await shot(phone, '08-phone-detail');

      await phone.getByRole('button', { name: 'Delete', exact: true }).click();
      const box = (await dialog(phone, 'Delete max-dev?').boundingBox())!;
      expect(box.x).to.be.at.least(0);
      expect(box.x + box.width).to.be.at.most(PHONE);
      await expectAccessible(phone, 'phone delete dialog');
      await shot(phone, '09-phone-dialog', false);
      await phone.keyboard.press('Escape');

      await phone.goto(`${cs.web.url}${NEW_WORKSPACE}`);
      const form = phone.getByRole('form', { name: 'New workspace' });
      await form.getByLabel('Secret 1', { exact: true }).locator('option[value=TLS_KEY]').waitFor({ state: 'attached' });
      await form.getByLabel('Secret 1', { exact: true }).selectOption('TLS_KEY');
      await form.getByLabel('Secret 1 given as').selectOption('file');
      await form.getByLabel('Secret 1 file path').waitFor();
      expect(await pageWidth(phone), 'the New workspace form fits too').to.be.at.most(PHONE);
      await expectAccessible(phone, 'phone new workspace');
      await shot(phone, '10-phone-form', false);
    });

    it('stops, starts and deletes through dialogs that take the focus, close on Escape and give it back', async () => {
      await max.goto(`${cs.web.url}#/workspaces/max-dev`);
      await inState(max, 'running');

      await max.getByRole('button', { name: 'Stop', exact: true }).click();
      const stop = dialog(max, 'Stop max-dev?');
      await stop.waitFor();
      expect(await focused(max), 'Enter never confirms by accident').to.equal('BUTTON Cancel');
      await expectAccessible(max, 'stop dialog');
      await shot(max, '11-stop-dialog');
      await max.keyboard.press('Escape');
      await stop.waitFor({ state: 'detached' });
      expect(await focused(max)).to.equal('BUTTON Stop');
      await max.getByRole('button', { name: 'Stop', exact: true }).click();
      await stop.getByRole('button', { name: 'Stop workspace' }).click();
      await inState(max, 'stopped');
      expect(await max.getByRole('button', { name: 'Stop', exact: true }).count()).to.equal(0);

      await max.getByRole('button', { name: 'Start', exact: true }).click();
      const start = dialog(max, 'Start max-dev?');
      expect(await start.innerText()).to.include('Run 2 starts with the current value of each secret.');
      await expectAccessible(max, 'start dialog');
      await start.getByRole('button', { name: 'Start workspace' }).click();
      await inState(max, 'running');
      await max.getByTestId('run').filter({ hasText: /^2$/ }).waitFor();
      // The new run holds the rotated version: nothing is stale, and the deleted secret is gone from it.
      expect(await held(max, 'HF_TOKEN').innerText()).to.equal('HF_TOKEN ← HF_TOKEN v2');
      expect(await max.locator('.stale-note').count()).to.equal(0);

      await max.getByRole('button', { name: 'Delete', exact: true }).click();
      const remove = dialog(max, 'Delete max-dev?');
      expect(await focused(max)).to.equal('BUTTON Cancel');
      await expectAccessible(max, 'delete dialog');
      await shot(max, '12-delete-dialog');
      await remove.getByRole('button', { name: 'Delete workspace' }).click();
      await max.getByRole('status').filter({ hasText: 'Deleted workspace max-dev.' }).waitFor();
      expect(new URL(max.url()).hash).to.equal('#/workspaces');
      await max.locator('td.empty').filter({ hasText: 'No workspaces yet.' }).waitFor();
      expect(await focused(max)).to.equal('H1 Workspaces');
      await shot(max, '13-deleted');
    });

    it('never sent a plaintext value in any request, nor wrote one to a server log', async () => {
      expect(requests.filter((r) => r.url.includes(`/api${WORKSPACES}/`)).length).to.be.greaterThan(5);
      const haystacks = [
        ...requests.map((r) => ({ where: `${r.method} ${r.url}`, bytes: Buffer.from(`${r.url}\n${r.body}`) })),
        { where: 'server log', bytes: readFileSync(cs.sys.logFile) },
        { where: 'web console log', bytes: readFileSync(cs.webLogFile) },
      ];
      expect(hits(haystacks, PLAINTEXTS)).to.deep.equal([]);
    });
  });
}
