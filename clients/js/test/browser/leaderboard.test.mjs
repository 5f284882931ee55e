// examples/leaderboard in Chromium, with the stock phoenix_live_view client the server
// serves (/live/live.js, 1.2.12): a keyed list whose entries are inserted, deleted, changed
// and moved; bad input shown on the page; and a tampered session token that reloads the
// page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, texts, waitGone } from './views_helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('leaderboard');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

const RANKED = ['ada', 'bo', 'cy', 'di', 'ed', 'flo', 'gus', 'hal', 'ivy', 'jo'];
const NAMES = '#players li .name';

/** Marks every entry's element, to tell later whether the client kept it or built anew. */
const markEntries = (page) =>
  page.evaluate(() => document.querySelectorAll('#players li').forEach((li) => (li.__kept = true)));

/** The ids of the entries whose element was not kept since `markEntries`. */
const rebuilt = (page) =>
  page.evaluate(() => [...document.querySelectorAll('#players li')].filter((li) => !li.__kept).map((li) => li.id));

scenario('+1 moves a player up, add inserts, remove deletes, shuffle and rank move them all', async (pages) => {
  const page = await pages.open(server.url('/'));
  await texts(page, NAMES, RANKED);
  await text(page, '#count', '10');
  await markEntries(page);

  // ada gets 43: no place changes
  await page.click('#player-1 .plus');
  await text(page, '#player-1 .score', '43');
  await texts(page, NAMES, RANKED);
  // di (35) gets 36 and passes cy (35)
  await page.click('#player-4 .plus');
  await text(page, '#player-4 .score', '36');
  await texts(page, NAMES, ['ada', 'bo', 'di', 'cy', 'ed', 'flo', 'gus', 'hal', 'ivy', 'jo']);

  // kim comes in with 33, between cy and ed
  await page.fill('input[name="name"]', 'kim');
  await page.fill('input[name="score"]', '33');
  await page.click('#add');
  await texts(page, NAMES, ['ada', 'bo', 'di', 'cy', 'kim', 'ed', 'flo', 'gus', 'hal', 'ivy', 'jo']);
  await text(page, '#count', '11');
  await text(page, '#player-11 .score', '33');
  assert.equal(await page.inputValue('input[name="name"]'), '', 'the add form is empty again');

  await page.click('#player-2 .remove'); // bo
  await texts(page, NAMES, ['ada', 'di', 'cy', 'kim', 'ed', 'flo', 'gus', 'hal', 'ivy', 'jo']);
  await text(page, '#count', '10');
  assert.deepEqual(await rebuilt(page), ['player-11'], 'the client built entries other than the new one anew');

  const before = await page.locator(NAMES).allTextContents();
  await page.click('#shuffle');
  await page.waitForFunction((b) => [...document.querySelectorAll('#players li .name')].every((n, i) => n.textContent !== b[i]), before, {
    timeout: WAIT,
  });
  const shuffled = await page.locator(NAMES).allTextContents();
  assert.deepEqual([...shuffled].sort(), [...before].sort(), 'the shuffle lost or made players');
  assert.match(await page.locator('main p').first().textContent(), /players \(shuffled\)/);
  assert.deepEqual(await rebuilt(page), ['player-11'], 'the shuffle built entries anew');

  await page.click('#rank');
  await texts(page, NAMES, ['ada', 'di', 'cy', 'kim', 'ed', 'flo', 'gus', 'hal', 'ivy', 'jo']);
  await page.waitForSelector('#rank[disabled]', { state: 'attached', timeout: WAIT });
});

scenario('the empty add form and an unknown event are shown on the page', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.click('#add');
  await text(page, '#flash-error', 'a player needs a name');
  await page.fill('input[name="name"]', 'kim');
  await page.fill('input[name="score"]', 'lots');
  await page.click('#add');
  await text(page, '#flash-error', 'a score is a whole number from 0 to 1000, not "lots"');
  await text(page, '#count', '10');
  await page.click('#flash-error'); // lv:clear-flash
  await waitGone(page, '#flash-error');
  // an event the view does not know, pushed by hand
  await page.evaluate(() => {
    const el = document.querySelector('#leaderboard');
    window.liveSocket.execJS(el, '[["push",{"event":"bogus"}]]', 'click');
  });
  await text(page, '#flash-error', 'unknown event "bogus"');
  // the view stays
  await page.click('#player-10 .plus');
  await text(page, '#player-10 .score', '8');
  await texts(page, NAMES, RANKED);
  assert.equal(pages.joins(page), 1, 'joins: the view stayed');
});

scenario('a tampered session token makes the client load the page afresh', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.click('#player-3 .remove');
  await text(page, '#count', '9');
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
  await page.evaluate(() => window.liveSocket.socket.conn.close()); // the socket drops: rejoin
  await loaded;
  await pages.connected(page);
  assert.equal(await hasMarker(page), false, 'the page was not loaded again');
  assert.notEqual(await page.getAttribute('[data-phx-main]', 'data-phx-session'), tampered);
  await text(page, '#count', '10'); // a new view
  await page.click('#player-3 .remove');
  await text(page, '#count', '9');
});
