// examples/dashboard in Chromium, with the stock phoenix_live_view client the server serves
// (/live/live.js, 1.2.12), several pages at once: the admin page's presence list sees user
// pages (a `user` cookie, `?name=`, a guest) appear, count their tabs and pages, and
// disappear when they are closed; the visits kept in the shared key and their reset; a
// rename (a live navigation: the old name leaves, the new one comes); a name too long and
// an unknown event shown on the page; a tampered session token that reloads the page,
// after which the page is tracked again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, textNow, texts, waitGone, waitPath, waitTitle } from './views_helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('dashboard');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

/** The admin's list: names, tabs and pages, one entry per person. */
const NAMES = '#online td.name';
const TABS = '#online td.tabs';
const PAGES = '#online td.pages';

/** Waits until the text of `selector` matches `re`; its text. */
async function matching(page, selector, re) {
  try {
    await page.waitForFunction(([sel, src]) => new RegExp(src).test(document.querySelector(sel)?.textContent ?? ''), [selector, re.source], {
      timeout: WAIT,
    });
  } catch (e) {
    throw new Error(`${selector} did not match ${re} within ${WAIT} ms; it shows ${JSON.stringify(await textNow(page, selector))}`, { cause: e });
  }
  return textNow(page, selector);
}

/** A page of the user `name` (the `user` cookie) in a context of its own. */
async function userContext(pages, name) {
  return pages.newContext({ cookies: [{ name: 'user', value: name, url: server.url('/') }] });
}

scenario('the admin sees user pages appear, count their tabs, and disappear when closed', async (pages) => {
  const admin = await pages.open(server.url('/admin'), { name: 'admin' });
  await texts(admin, NAMES, []);
  const visits = Number(await matching(admin, '#visits', /^\d+$/));

  const annContext = await userContext(pages, 'ann');
  const ann = await pages.open(server.url('/'), { name: 'ann /', context: annContext });
  await text(ann, '#name', 'ann');
  await texts(admin, NAMES, ['ann']);
  await texts(admin, TABS, ['1']);
  await texts(admin, PAGES, ['/']);
  await matching(admin, '#online td.since', /^\d\d:\d\d:\d\d UTC$/);
  await waitTitle(admin, 'Dashboard: 1 online');

  // ann's second tab, on another page
  const annAbout = await pages.open(server.url('/about'), { name: 'ann /about', context: annContext });
  await text(annAbout, '#page', '/about');
  await texts(admin, TABS, ['2']);
  await texts(admin, PAGES, ['/, /about']);

  const bo = await pages.open(server.url('/?name=bo'), { name: 'bo' });
  await text(bo, '#name', 'bo');
  await texts(admin, NAMES, ['ann', 'bo']);
  await texts(admin, TABS, ['2', '1']);
  await text(admin, '#online-count', '2');
  await waitTitle(admin, 'Dashboard: 2 online');
  await text(bo, '#online-count', '2');
  // three visits, counted in the key: every page shows them
  await text(admin, '#visits', String(visits + 3));
  await text(bo, '#visits', String(visits + 3));

  // closing a tab leaves
  await bo.close();
  await texts(admin, NAMES, ['ann']);
  await text(ann, '#online-count', '1');
  await annAbout.close();
  await texts(admin, TABS, ['1']);
  await texts(admin, PAGES, ['/']);
  await ann.close();
  await texts(admin, NAMES, []);
  await text(admin, '#online-count', '0');
  await waitTitle(admin, 'Dashboard: 0 online');
  // the visits stay in the key
  await text(admin, '#visits', String(visits + 3));
});

scenario('a rename leaves under the old name and comes back under the new; the admin resets the visits', async (pages) => {
  const admin = await pages.open(server.url('/admin'), { name: 'admin' });
  const guest = await pages.open(server.url('/'), { name: 'guest' });
  const name = await matching(guest, '#name', /^guest-\d+$/);
  await texts(admin, NAMES, [name]);

  // a name too long is refused with a message; the page stays as it was
  await guest.fill('#rename input[name="name"]', 'x'.repeat(33));
  await guest.click('#rename-button');
  await text(guest, '#flash-error', 'a name is at most 32 characters');
  await guest.click('#flash-error'); // lv:clear-flash
  await waitGone(guest, '#flash-error');
  await text(guest, '#name', name);

  await guest.fill('#rename input[name="name"]', 'Cy & Di');
  await guest.click('#rename-button');
  await waitPath(guest, '/?name=Cy%20%26%20Di');
  await text(guest, '#name', 'Cy & Di');
  await texts(admin, NAMES, ['Cy & Di']);
  await texts(admin, TABS, ['1']);

  // the admin writes 0 into the key: every page shows it
  await admin.click('#reset');
  await text(admin, '#flash-info', 'visits reset');
  await text(admin, '#visits', '0');
  await text(guest, '#visits', '0');
  const again = await pages.open(server.url('/about?name=Cy%20%26%20Di'), { name: 'Cy & Di /about' });
  await text(again, '#visits', '1');
  await text(admin, '#visits', '1');
  await texts(admin, TABS, ['2']);
});

scenario('bad input is shown on the page: a name too long, unknown events', async (pages) => {
  const admin = await pages.open(server.url('/admin'), { name: 'admin' });
  const long = await pages.open(server.url(`/?name=${'n'.repeat(40)}`), { name: 'long name' });
  const said = await matching(long, '#flash-error', /^name refused \(a name is at most 32 characters\): you are guest-\d+$/);
  const guest = said.slice(said.lastIndexOf(' ') + 1);
  await text(long, '#name', guest);
  await texts(admin, NAMES, [guest]);

  for (const page of [long, admin]) {
    await page.evaluate(() => {
      const el = document.querySelector('[data-phx-main]');
      window.liveSocket.execJS(el, '[["push",{"event":"kick_everyone"}]]', 'click');
    });
    await text(page, '#flash-error', 'unknown event "kick_everyone"');
    assert.equal(pages.joins(page), 1, 'joins: the view stayed');
  }
});

scenario('a tampered session token reloads the page, which is tracked again', async (pages) => {
  const admin = await pages.open(server.url('/admin'), { name: 'admin' });
  const page = await pages.open(server.url('/?name=di'), { name: 'di' });
  await texts(admin, NAMES, ['di']);
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
  await text(page, '#name', 'di');
  // the old view left with its socket, the new one is tracked: one tab
  await texts(admin, NAMES, ['di']);
  await texts(admin, TABS, ['1']);
  await page.close();
  await texts(admin, NAMES, []);
});
