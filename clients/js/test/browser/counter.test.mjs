// examples/counter in Chromium: max_version 10, so versions wrap to 0 (LiveState's scenario).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, launchBrowser, startExample, waitForEnabled, waitForText, withPages } from './helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('counter');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0);
});

test('16 clicks on the max_version-10 counter show 16 and version 5', T, () =>
  withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/'));
    await waitForText(page, '#count', '0');
    await waitForText(page, '#version', '0');
    for (let i = 1; i <= 16; i++) {
      await waitForEnabled(page, '#increment'); // the last click's change has come
      await page.click('#increment');
      await waitForText(page, '#count', String(i));
      await waitForText(page, '#version', String(i % 11));
    }
    await waitForText(page, '#count', '16');
    await waitForText(page, '#version', '5');
    await waitForEnabled(page, '#increment');
  }),
);
