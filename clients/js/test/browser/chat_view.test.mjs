// examples/chat_view in Chromium, with the stock phoenix_live_view client the server
// serves (/live/live.js, 1.2.12): a chat room as a live view attached to the shared key
// room:NAME. Two pages of one room see each other's posts; a page opened later gets the
// history; a page of another room sees none of it; bad input (an empty post, an unknown
// event pushed by hand, a bad room name) is shown on the page; a tampered session token
// reloads the page, which then works again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample, waitForText, waitForTexts } from './helpers.mjs';
import { LivePages, SERVED, hasMarker, setMarker, waitGone } from './views_helpers.mjs';

/** How long a wait may take: generous, for a busy machine. */
const WAIT = 30_000;
const TEST = { timeout: 180_000 };

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('chat_view');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

/** The form's inputs (they have no id: see the view's template). */
const AUTHOR = 'input[name="author"]';
const TEXT = 'input[name="text"]';

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

let rooms = 0;
/** A room of this run alone (the server lives for the whole file). */
const freshRoom = (what) => `${what}-${process.pid}-${++rooms}`;

const text = (page, selector, want) => waitForText(page, selector, want, WAIT);
const messages = (page, want) => waitForTexts(page, '#messages li', want, WAIT);

/** Waits until the input `selector`'s value is `want`. */
async function value(page, selector, want) {
  try {
    await page.waitForFunction(([sel, w]) => document.querySelector(sel)?.value === w, [selector, want], { timeout: WAIT });
  } catch (e) {
    throw new Error(`${selector}'s value did not become ${JSON.stringify(want)}: ${await page.inputValue(selector)}`, { cause: e });
  }
}

/** Waits until the document's title is `want`. */
async function title(page, want) {
  try {
    await page.waitForFunction((t) => document.title === t, want, { timeout: WAIT });
  } catch (e) {
    throw new Error(`the title did not become ${JSON.stringify(want)}; it is ${JSON.stringify(await page.title())}`, { cause: e });
  }
}

/** Types `author` and `text` into the page's form and sends it. */
async function post(page, author, message) {
  await page.fill(AUTHOR, author);
  await page.fill(TEXT, message);
  await page.click('#send');
}

scenario('a post on one page appears on every page of the room; a late page has the history; another room has none', async (pages) => {
  const room = freshRoom('pair');
  const url = server.url(`/?room=${room}`);
  const ann = await pages.open(url, { name: 'ann' });
  const bo = await pages.open(url, { name: 'bo' });
  await title(ann, `#${room} · chat`);
  await text(ann, '#room', `#${room}`);
  await messages(ann, []);

  await post(ann, 'ann', 'hi bo');
  await messages(ann, ['ann: hi bo']);
  await messages(bo, ['ann: hi bo']);
  // ann's form is a new one: the text empty, the name kept
  await value(ann, TEXT, '');
  await value(ann, AUTHOR, 'ann');

  await post(bo, 'bo', 'hi <ann> & all');
  const both = ['ann: hi bo', 'bo: hi <ann> & all'];
  await messages(bo, both);
  await messages(ann, both);
  // a third page, opened later: the history, in its first render already
  const cy = await pages.open(url, { name: 'cy' });
  await messages(cy, both);
  await post(cy, 'cy', 'late but here');
  const three = [...both, 'cy: late but here'];
  await Promise.all([ann, bo, cy].map((p) => messages(p, three)));
  // ann posts again: the name is kept in the view, only the text is typed
  await ann.fill(TEXT, 'bye');
  await ann.click('#send');
  await messages(bo, [...three, 'ann: bye']);

  // a page of another room: none of it, and its posts stay there
  const other = await pages.open(server.url(`/?room=${freshRoom('other')}`), { name: 'other room' });
  await messages(other, []);
  await post(other, 'dan', 'elsewhere');
  await messages(other, ['dan: elsewhere']);
  await post(ann, 'ann', 'still here');
  await messages(bo, [...three, 'ann: bye', 'ann: still here']);
  await messages(other, ['dan: elsewhere']);
  // nothing of the banner on a page whose key stayed put
  for (const p of [ann, bo, cy, other]) assert.equal(await p.locator('#reconnecting').count(), 0);
  for (const p of [ann, bo, cy]) assert.equal(pages.joins(p), 1, 'a page joined more than once');
});

scenario('bad input is shown on the page: an empty post, one too long, an unknown event, a bad room', async (pages) => {
  const room = freshRoom('bad');
  const page = await pages.open(server.url(`/?room=${room}`), { name: 'ann' });
  const watcher = await pages.open(server.url(`/?room=${room}`), { name: 'watcher' });
  // an empty post: refused by the room's channel, the reason on the page
  await post(page, 'ann', '');
  await text(page, '#flash-error', 'text is required');
  // what was typed stays in the form
  await value(page, AUTHOR, 'ann');
  await post(page, 'ann', 'x'.repeat(501));
  await text(page, '#flash-error', 'text is longer than 500 characters');
  await value(page, TEXT, 'x'.repeat(501));
  await page.click('#flash-error'); // lv:clear-flash
  await waitGone(page, '#flash-error');
  // an event the view does not know, pushed by hand
  await page.evaluate(() => {
    const el = document.querySelector('#chat');
    window.liveSocket.execJS(el, '[["push",{"event":"bogus"}]]', 'click');
  });
  await text(page, '#flash-error', 'unknown event "bogus"');
  // nothing reached the room; a good post clears the message
  await post(page, 'ann', 'fine now');
  await messages(watcher, ['ann: fine now']);
  await messages(page, ['ann: fine now']);
  await waitGone(page, '#flash-error');
  assert.equal(pages.joins(page), 1, 'joins: the view stayed');

  // a bad room name: the page says why, with no form
  const bad = await pages.open(server.url('/?room=No%20Such%20Room'), { name: 'bad room' });
  await text(bad, '#bad-room', '"No Such Room" is not a room: a room\'s name is 1 to 32 lowercase letters, digits, - or _');
  await title(bad, 'no such room · chat');
  assert.equal(await bad.locator('form').count(), 0);
});

scenario('a tampered session token makes the client load the page afresh, and it works again', async (pages) => {
  const room = freshRoom('tamper');
  const url = server.url(`/?room=${room}`);
  const page = await pages.open(url, { name: 'ann' });
  const bo = await pages.open(url, { name: 'bo' });
  await post(page, 'ann', 'before');
  await messages(bo, ['ann: before']);
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
  // the reloaded page has the history, and posts again
  await messages(page, ['ann: before']);
  await post(page, 'ann', 'after');
  await messages(page, ['ann: before', 'ann: after']);
  await messages(bo, ['ann: before', 'ann: after']);
});
