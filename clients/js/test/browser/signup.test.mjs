// examples/signup in Chromium, with the stock phoenix_live_view client the server serves
// (/live/live.js, 1.2.12): live validation showing the errors of the touched fields only,
// _target, a signup with its welcome, the empty form's errors, an unknown event shown on
// the page, and a tampered session token that reloads the page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, texts, waitGone } from './views_helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('signup');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

/** The form's inputs (they have no id: see the view's template). */
const NAME = 'input[name="user[name]"]';
const EMAIL = 'input[name="user[email]"]';

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

/** Waits until the input `selector`'s value is `want`. */
async function value(page, selector, want) {
  try {
    await page.waitForFunction(([sel, w]) => document.querySelector(sel)?.value === w, [selector, want], { timeout: WAIT });
  } catch (e) {
    throw new Error(`${selector}'s value did not become ${JSON.stringify(want)}: ${await page.inputValue(selector)}`, { cause: e });
  }
}

scenario('errors show for the touched fields only; a valid submit signs up and welcomes', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.locator(EMAIL).pressSequentially('ann');
  await text(page, '#email-error', ' email needs an @ with something on each side');
  await text(page, '#target', 'user[email]');
  assert.equal(await page.locator('#name-error').count(), 0, 'the untouched name shows an error');
  // the name used, then left blank
  await page.locator(NAME).pressSequentially('A');
  await text(page, '#target', 'user[name]');
  await page.fill(NAME, '');
  await text(page, '#name-error', " name can't be blank");
  await page.fill(NAME, 'Ann');
  await waitGone(page, '#name-error');
  await page.fill(EMAIL, 'ann@example.org');
  await waitGone(page, '#email-error');
  await page.click('#save');
  await text(page, '#flash-info', 'welcome Ann');
  await texts(page, '#users li', ['Ann <ann@example.org>']);
  await text(page, '#user-count', '1');
  // a fresh form: empty, its inputs unused again
  await value(page, NAME, '');
  await value(page, EMAIL, '');
  await page.locator(NAME).pressSequentially('Bo');
  await text(page, '#target', 'user[name]');
  assert.equal(await page.locator('#email-error').count(), 0, 'the fresh form shows an error for the untouched email');
  await page.locator(EMAIL).pressSequentially('ann@example.org');
  await text(page, '#email-error', ' ann@example.org has signed up already');
  await page.fill(EMAIL, 'bo@example.org');
  await waitGone(page, '#email-error');
  await page.click('#save');
  await text(page, '#flash-info', 'welcome Bo');
  await texts(page, '#users li', ['Ann <ann@example.org>', 'Bo <bo@example.org>']);
});

scenario('the empty form submitted shows its errors on the page', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.click('#save');
  await text(page, '#flash-error', "not signed up: name can't be blank; email can't be blank");
  await text(page, '#name-error', " name can't be blank");
  await text(page, '#email-error', " email can't be blank");
  await text(page, '#user-count', '0');
  // fixed: the message goes, the welcome comes
  await page.fill(NAME, 'Cy');
  await page.fill(EMAIL, 'cy@example.org');
  await waitGone(page, '#email-error');
  await page.click('#save');
  await text(page, '#flash-info', 'welcome Cy');
  await waitGone(page, '#flash-error');
});

scenario('an unknown event is shown on the page', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.evaluate(() => {
    const el = document.querySelector('#signup');
    window.liveSocket.execJS(el, '[["push",{"event":"bogus"}]]', 'click');
  });
  await text(page, '#flash-error', 'unknown event "bogus"');
  await page.click('#flash-error'); // lv:clear-flash
  await waitGone(page, '#flash-error');
  // the view stays
  await page.locator(EMAIL).pressSequentially('x');
  await text(page, '#target', 'user[email]');
  assert.equal(pages.joins(page), 1, 'joins: the view stayed');
});

scenario('a tampered session token makes the client load the page afresh', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.fill(NAME, 'Di');
  await page.fill(EMAIL, 'di@example.org');
  await page.click('#save');
  await text(page, '#user-count', '1');
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
  await text(page, '#user-count', '0'); // a new view
  await page.locator(EMAIL).pressSequentially('ed');
  await text(page, '#email-error', ' email needs an @ with something on each side');
});
