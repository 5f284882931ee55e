// examples/join_params in Chromium: join params shown on the page, and the errors page
// (an unrouted topic, an init error), as in LiveState's testbed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { T, launchBrowser, startExample, waitForText, withPages } from './helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('join_params');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0);
});

test('join params are shown on the page', T, () =>
  withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/'));
    await waitForText(page, '#result', 'foo');
    // each join has its own state: another page with other params shows its own
    const bar = await pages.open(server.url('/?foo=bar'), 'page with ?foo=bar');
    await waitForText(bar, '#result', 'bar');
    await waitForText(page, '#result', 'foo');
  }),
);

test('an unrouted topic shows "unmatched topic"; an init error shows its message', T, () =>
  withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/errors'));
    await waitForText(page, '#unmatched', 'unmatched topic');
    await waitForText(page, '#init-error', 'this channel always fails to start');
  }),
);
