// examples/thermostat in Chromium, with the stock phoenix_live_view client the server
// serves (/live/live.js, 1.2.12): clicks, the mode, the timer's clock, a refused event shown
// on the page, and a tampered session token that reloads the page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, textNow, waitGone } from './views_helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('thermostat');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

scenario('- and + and the presets change the temperature; the mode switches', async (pages) => {
  const page = await pages.open(server.url('/'));
  await text(page, '#celsius', '21');
  await page.click('#inc');
  await text(page, '#celsius', '22');
  await text(page, '#heating-to', '22');
  await page.click('#dec');
  await page.click('#dec');
  await text(page, '#celsius', '20');
  await page.click('#night');
  await text(page, '#celsius', '17');
  await page.click('#day');
  await text(page, '#celsius', '21');
  await text(page, '#mode', 'comfort');
  await page.click('#toggle-mode');
  await text(page, '#mode', 'eco');
  await text(page, '#eco-note', 'eco: the heating stops at 18 °C');
  await text(page, '#heating-to', '18');
  await page.click('#toggle-mode');
  await text(page, '#mode', 'comfort');
  await waitGone(page, '#eco-note');
  await text(page, '#heating-to', '21');
});

scenario('the timer moves the clock', async (pages) => {
  const page = await pages.open(server.url('/'));
  const shown = await textNow(page, '#clock');
  assert.match(shown, /^\d+:\d\d$/);
  // no sleep: wait (up to WAIT) until the server's next tick has changed it
  await page.waitForFunction((before) => document.querySelector('#clock')?.textContent !== before, shown, { timeout: WAIT });
  const later = await textNow(page, '#clock');
  assert.match(later, /^\d+:\d\d$/);
  const seconds = (clock) => clock.split(':').reduce((m, s) => Number(m) * 60 + Number(s));
  assert.ok(seconds(later) > seconds(shown), `the clock went from ${shown} to ${later}`);
  // a click between ticks leaves the clock running
  await page.click('#inc');
  await text(page, '#celsius', '22');
  await page.waitForFunction((before) => document.querySelector('#clock')?.textContent !== before, later, { timeout: WAIT });
});

scenario('what the view refuses is shown on the page: past the top, an unknown event', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.evaluate(() => {
    // a preset the page does not have, through the stock client's JS commands
    const el = document.querySelector('#day');
    window.liveSocket.execJS(el, '[["push",{"event":"set","value":{"celsius":"30"}}]]', 'click');
  });
  await text(page, '#celsius', '30');
  await page.click('#inc');
  await text(page, '#flash-error', 'the thermostat goes no higher than 30 °C');
  await text(page, '#celsius', '30');
  await page.click('#flash-error'); // lv:clear-flash
  await waitGone(page, '#flash-error');
  // an event the view does not know, pushed by hand
  await page.evaluate(() => {
    const el = document.querySelector('#thermostat');
    window.liveSocket.execJS(el, '[["push",{"event":"bogus"}]]', 'click');
  });
  await text(page, '#flash-error', 'unknown event "bogus"');
  // the view stays
  await page.click('#dec');
  await text(page, '#celsius', '29');
  assert.equal(pages.joins(page), 1, 'joins: the view stayed');
});

scenario('a tampered session token makes the client load the page afresh', async (pages) => {
  const page = await pages.open(server.url('/'));
  await page.click('#inc');
  await text(page, '#celsius', '22');
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
  await text(page, '#celsius', '21');
  await page.click('#inc');
  await text(page, '#celsius', '22');
});
