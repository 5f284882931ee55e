// examples/shared_form in Chromium, with the stock phoenix_live_view client the server
// serves (/live/live.js, 1.2.12), two or three pages at once on one record: what is typed in
// page A (debounced) appears in page B's inputs and "saved by"; B's notes reach A; errors
// (a blank title, a date that is not YYYY-MM-DD or no such day) are shown to the person
// typing alone and never written; a name too long and an unknown event shown on the page;
// a tampered session token that reloads the page, after which editing works again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, textNow, waitGone } from './views_helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('shared_form');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

/** The form's inputs. */
const TITLE = 'input[name="record[title]"]';
const DATE = 'input[name="record[date]"]';
const NOTES = 'textarea[name="record[notes]"]';

/** Waits until the input `selector`'s value is `want`. */
async function value(page, selector, want) {
  try {
    await page.waitForFunction(([sel, w]) => document.querySelector(sel)?.value === w, [selector, want], { timeout: WAIT });
  } catch (e) {
    throw new Error(`${selector}'s value did not become ${JSON.stringify(want)}: ${JSON.stringify(await page.inputValue(selector))}`, { cause: e });
  }
}

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

/** The version in "saved by NAME at version N". */
const versionOf = (saved) => Number(/ at version (\d+)$/.exec(saved)[1]);

scenario('a change typed in page A appears in page B, and back', async (pages) => {
  const a = await pages.open(server.url('/?name=ann'), { name: 'ann' });
  const b = await pages.open(server.url('/?name=bo'), { name: 'bo' });
  await text(a, '#editors', 'ann, bo');
  await text(b, '#editors', 'ann, bo');

  await a.locator(TITLE).fill('');
  await a.locator(TITLE).pressSequentially('Lyon offsite');
  await value(b, TITLE, 'Lyon offsite');
  const saved = await matching(b, '#saved', /^saved by ann at version \d+$/);
  await text(a, '#saved', saved);
  await value(a, TITLE, 'Lyon offsite'); // what ann typed stays in her input

  await a.fill(DATE, '2026-07-01');
  await value(b, DATE, '2026-07-01');
  const later = await matching(b, '#saved', /^saved by ann at version \d+$/);
  assert.ok(versionOf(later) > versionOf(saved), `${later} after ${saved}`);

  // bo's notes reach ann's textarea
  await b.fill(NOTES, 'Bring <boots>\nand a hat');
  await value(a, NOTES, 'Bring <boots>\nand a hat');
  await matching(a, '#saved', /^saved by bo at version \d+$/);
  // a third page opens on the record as it is now
  const c = await pages.open(server.url('/?name=cy'), { name: 'cy' });
  await value(c, TITLE, 'Lyon offsite');
  await value(c, DATE, '2026-07-01');
  await value(c, NOTES, 'Bring <boots>\nand a hat');
  await text(a, '#editors', 'ann, bo, cy');
  await c.close();
  await text(a, '#editors', 'ann, bo');
});

scenario('errors are shown to the person typing alone and never written', async (pages) => {
  const a = await pages.open(server.url('/?name=ann'), { name: 'ann' });
  const b = await pages.open(server.url('/?name=bo'), { name: 'bo' });
  await a.fill(TITLE, 'Picnic');
  await value(b, TITLE, 'Picnic');

  // a blank title: ann sees the error, bo keeps the title
  await a.fill(TITLE, '');
  await text(a, '#title-error', 'title is required');
  await a.fill(DATE, '14/05/2026');
  await text(a, '#date-error', 'date must be YYYY-MM-DD');
  await a.fill(DATE, '2026-02-30');
  await text(a, '#date-error', '2026-02-30 is not a day of the calendar');
  // a valid change after them: once bo has it, bo has had every change ann made
  await a.fill(NOTES, 'after the errors');
  await value(b, NOTES, 'after the errors');
  assert.equal(await b.inputValue(TITLE), 'Picnic', 'the blank title was written');
  assert.notEqual(await b.inputValue(DATE), '2026-02-30', 'the bad date was written');
  assert.equal(await b.locator('#title-error').count(), 0, 'bo sees ann\'s error');
  assert.equal(await b.locator('#date-error').count(), 0, 'bo sees ann\'s error');
  // ann still sees her errors and what she typed
  await text(a, '#title-error', 'title is required');
  await value(a, TITLE, '');

  // fixed: the error goes, bo gets the value
  await a.fill(DATE, '2028-02-29');
  await waitGone(a, '#date-error');
  await value(b, DATE, '2028-02-29');
  await a.fill(TITLE, 'Picnic at noon');
  await waitGone(a, '#title-error');
  await value(b, TITLE, 'Picnic at noon');
});

scenario('a name too long and an unknown event are shown on the page', async (pages) => {
  const page = await pages.open(server.url(`/?name=${'n'.repeat(40)}`), { name: 'long name' });
  const said = await matching(page, '#flash-error', /^name refused \(a name is at most 32 characters\): you are guest-\d+$/);
  await text(page, '#me', said.slice(said.lastIndexOf(' ') + 1));
  await page.click('#flash-error'); // lv:clear-flash
  await waitGone(page, '#flash-error');
  await page.evaluate(() => {
    const el = document.querySelector('[data-phx-main]');
    window.liveSocket.execJS(el, '[["push",{"event":"delete_everything"}]]', 'click');
  });
  await text(page, '#flash-error', 'unknown event "delete_everything"');
  // the view stays, and edits
  await page.fill(NOTES, 'still here');
  await matching(page, '#saved', /^saved by guest-\d+ at version \d+$/);
  assert.equal(pages.joins(page), 1, 'joins: the view stayed');
});

scenario('a tampered session token makes the client load the page afresh, and editing works again', async (pages) => {
  const a = await pages.open(server.url('/?name=di'), { name: 'di' });
  const b = await pages.open(server.url('/?name=ed'), { name: 'ed' });
  await text(b, '#editors', 'di, ed');
  await setMarker(a);
  const tampered = await a.evaluate(() => {
    const root = document.querySelector('[data-phx-main]');
    const token = root.getAttribute('data-phx-session');
    let i = Math.floor(token.length / 2);
    while (token[i] === '.') i += 1;
    const swapped = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
    root.setAttribute('data-phx-session', swapped);
    return swapped;
  });
  const loaded = a.waitForEvent('load', { timeout: WAIT });
  await a.evaluate(() => window.liveSocket.socket.conn.close()); // the socket drops: rejoin
  await loaded;
  await pages.connected(a);
  assert.equal(await hasMarker(a), false, 'the page was not loaded again');
  assert.notEqual(await a.getAttribute('[data-phx-main]', 'data-phx-session'), tampered);
  await text(a, '#me', 'di');
  await a.fill(TITLE, 'After the reload');
  await value(b, TITLE, 'After the reload');
  await matching(b, '#saved', /^saved by di at version \d+$/);
  await text(b, '#editors', 'di, ed');
});
