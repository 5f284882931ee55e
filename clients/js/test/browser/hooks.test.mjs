// The hooks example (examples/hooks) in Chromium, with the client the server serves
// (/live/live.js, phoenix_live_view 1.2.12): the Viewport hook's pushEvent gets its reply,
// which the hook writes into the page, at mount and on a resize; the server's push_event
// reaches the Highlighter hook's handleEvent, and what the hook did survives later diffs;
// a report that does not fit and an unknown event, pushed by hand, are shown in the flash;
// a tampered session token reloads the page, whose hooks then work.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, textNow, waitGone } from './views_helpers.mjs';

let browser;
let server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('hooks');
});
after(async () => {
  await browser?.close();
  if (server) {
    const exit = await server.stop();
    assert.equal(exit.code, 0, `hooks did not exit cleanly (${JSON.stringify(exit)}); stderr:\n${server.stderr()}`);
  }
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

/** Waits until the text of `selector` matches `pattern`. */
async function textMatches(page, selector, pattern) {
  try {
    await page.waitForFunction(
      ([sel, source, flags]) => new RegExp(source, flags).test(document.querySelector(sel)?.textContent ?? ''),
      [selector, pattern.source, pattern.flags],
      { timeout: WAIT },
    );
  } catch (e) {
    const seen = await textNow(page, selector);
    throw new Error(`${selector} did not match ${pattern} within ${WAIT} ms; it shows ${JSON.stringify(seen)}`, { cause: e });
  }
}

/** The first report of a page in a 1280 × 720 window (playwright's default viewport). */
async function firstReport(page) {
  await text(page, '#viewport', 'The server says: a desktop screen (report 1).');
  await text(page, '#screen', 'The server knows: 1280 × 720 pixels, 1 report(s).');
}

scenario("the Viewport hook's pushEvent gets its reply, at mount and after a resize", async (pages) => {
  const page = await pages.open(server.url('/'));
  await firstReport(page);
  await setMarker(page);
  // a resize fires one or more "resize" events: one report each
  await page.setViewportSize({ width: 500, height: 800 });
  await textMatches(page, '#viewport', /^The server says: a phone screen \(report (?:[2-9]|[1-9]\d+)\)\.$/);
  await textMatches(page, '#screen', /^The server knows: 500 × 800 pixels, (?:[2-9]|[1-9]\d+) report\(s\)\.$/);
  assert.equal(pages.joins(page), 1, 'joins');
  assert.ok(await hasMarker(page), 'a report loaded the page');
});

scenario("the server's push_event reaches the Highlighter's handleEvent; later diffs keep what it did", async (pages) => {
  const page = await pages.open(server.url('/'));
  await firstReport(page);
  await page.click('#highlight-next');
  await text(page, '#highlighted', 'The hook highlighted Mercury.');
  await page.waitForSelector('#planet-0.highlight', { state: 'attached' });
  await page.click('#highlight-next');
  await text(page, '#highlighted', 'The hook highlighted Venus.');
  await page.waitForSelector('#planet-1.highlight', { state: 'attached' });
  await waitGone(page, '#planet-0.highlight');

  // a diff that re-renders the page around the hooks' work (a new report)
  await page.setViewportSize({ width: 800, height: 600 });
  await textMatches(page, '#screen', /^The server knows: 800 × 600 pixels/);
  await textMatches(page, '#viewport', /^The server says: a tablet screen/);
  assert.equal(await page.locator('#planet-1.highlight').count(), 1, 'the diff removed the highlight');
  assert.equal(await textNow(page, '#highlighted'), 'The hook highlighted Venus.', 'the diff replaced the hook\'s text');
});

scenario('a report that does not fit and an unknown event are shown in the flash; the view stays', async (pages) => {
  const page = await pages.open(server.url('/'));
  await firstReport(page);

  // the hook's event with a payload that does not decode, pushed by hand: no reply
  const reply = await page.evaluate(() =>
    window.liveSocket.main
      .pushHookEvent(document.getElementById('viewport'), null, 'viewport', { width: 'wide', height: 720 })
      .then(({ reply }) => reply ?? null),
  );
  assert.equal(reply, null, 'a refused report got a reply');
  await text(page, '.flash-error', 'bad payload for viewport: width: invalid type: string "wide", expected u32');

  // one that decodes, refused by the view
  await page.evaluate(() =>
    window.liveSocket.main.pushHookEvent(document.getElementById('viewport'), null, 'viewport', { width: 0, height: 720 }),
  );
  await text(page, '.flash-error', 'A window of 0 × 720 pixels shows nothing.');

  // an event the view does not know, as a click's JS command would push it
  await page.evaluate(() =>
    window.liveSocket.execJS(document.querySelector('[data-phx-main]'), '[["push",{"event":"bogus"}]]', 'click'),
  );
  await text(page, '.flash-error', 'unknown event "bogus"');
  await page.click('.flash-error'); // lv:clear-flash
  await waitGone(page, '.flash-error');

  // the same view, as it was
  await text(page, '#screen', 'The server knows: 1280 × 720 pixels, 1 report(s).');
  await text(page, '#viewport', 'The server says: a desktop screen (report 1).');
  await page.click('#highlight-next');
  await text(page, '#highlighted', 'The hook highlighted Mercury.');
  assert.equal(pages.joins(page), 1, 'joins: a refused event must not remount the view');
});

scenario('a tampered session token makes the client load the page afresh, whose hooks work', async (pages) => {
  const page = await pages.open(server.url('/'));
  await firstReport(page);
  await page.click('#highlight-next');
  await text(page, '#highlighted', 'The hook highlighted Mercury.');
  await setMarker(page);
  const tampered = await page.evaluate(() => {
    const root = document.querySelector('[data-phx-main]');
    const token = root.getAttribute('data-phx-session');
    let i = Math.floor(token.length / 2);
    while (token[i] === '.') i += 1;
    const swapped = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
    root.setAttribute('data-phx-session', swapped);
    return swapped;
  });
  const loaded = page.waitForEvent('load', { timeout: WAIT });
  await page.evaluate(() => window.liveSocket.socket.conn.close()); // the socket drops: a rejoin
  await loaded;
  await pages.connected(page);
  assert.equal(await hasMarker(page), false, 'no page load after a rejoin with a tampered token');
  const fresh = await page.getAttribute('[data-phx-main]', 'data-phx-session');
  assert.notEqual(fresh, tampered, 'the loaded page has the tampered token');
  // a fresh view: the hook reports again, the highlighter starts over
  await firstReport(page);
  await text(page, '#highlighted', 'The hook highlighted nothing yet.');
  await page.click('#highlight-next');
  await text(page, '#highlighted', 'The hook highlighted Mercury.');
});
