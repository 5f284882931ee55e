// The README's HTTP demo: scripts/http-demo drives the demo page over the HTTP state API
// while Chromium watches the page update.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startServer } from '../helpers.mjs';
import { REPO_ROOT, T, launchBrowser, waitForText, waitForTexts, withPages } from './helpers.mjs';

const run = promisify(execFile);
let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startServer('livestate', ['--config', join(REPO_ROOT, 'scripts/http-demo.toml')]);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('scripts/http-demo changes what the demo page shows', T, () =>
  withPages(browser, [], async (pages) => {
    const base = `http://127.0.0.1:${server.port}`;
    const page = await pages.open(`${base}/`);
    await waitForText(page, '#status', 'live');
    await waitForText(page, '#count', '0');
    const { stdout } = await run(join(REPO_ROOT, 'scripts/http-demo'), [base], { timeout: 20_000 });
    assert.match(stdout, /"version":/);
    await waitForText(page, '#count', '43');
    await waitForTexts(page, '#todos li span', [' added over HTTP']);
  }),
);
