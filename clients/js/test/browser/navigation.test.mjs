// The navigation example (examples/navigation) in Chromium, with the client the server
// serves (/live/live.js, phoenix_live_view 1.2.12): live_patch links and push_patch change
// the list without a page load, back and forward restore it; navigate links and
// push_navigate (with a flash) move between the list and a product's view of the same live
// session; what does not fit (a product that does not exist, a URL's bad sort order, an
// unknown event, a click the view refuses) is shown on the page; a tampered session token
// reloads the page, which then works.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import {
  LivePages,
  SERVED,
  TEST,
  WAIT,
  hasMarker,
  setMarker,
  text,
  texts,
  waitConnected,
  waitGone,
  waitPath,
  waitTitle,
} from './views_helpers.mjs';

let browser;
let server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('navigation');
});
after(async () => {
  await browser?.close();
  if (server) {
    const exit = await server.stop();
    assert.equal(exit.code, 0, `navigation did not exit cleanly (${JSON.stringify(exit)}); stderr:\n${server.stderr()}`);
  }
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

const BY_NAME = ['Anvil', 'Birdseed', 'Catapult'];
const BY_PRICE = ['Birdseed', 'Glue', 'Earthquake pills'];
const BY_PRICE_2 = ['Dynamite', 'Giant fan', 'Anvil'];

/** Waits until the list shows `names` at `path`. */
async function listShows(page, path, names) {
  await texts(page, '#products a', names);
  await waitPath(page, path);
}

scenario('patch links and push_patch change the list without a page load; back and forward restore it', async (pages) => {
  const page = await pages.open(server.url('/'));
  await texts(page, '#products a', BY_NAME);
  await waitTitle(page, 'Products by name, page 1');
  await setMarker(page);

  await page.click('#sort-price'); // a live_patch link
  await listShows(page, '/?sort=price', BY_PRICE);
  await waitTitle(page, 'Products by price, page 1');
  await page.click('#next'); // the server's push_patch
  await listShows(page, '/?sort=price&page=2', BY_PRICE_2);
  await text(page, '#page', '2');
  await page.click('#previous'); // a live_patch link again
  await listShows(page, '/?sort=price&page=1', BY_PRICE);

  await page.goBack();
  await listShows(page, '/?sort=price&page=2', BY_PRICE_2);
  await page.goBack();
  await listShows(page, '/?sort=price', BY_PRICE);
  await page.goBack();
  await listShows(page, '/', BY_NAME);
  await waitTitle(page, 'Products by name, page 1');
  await page.goForward();
  await listShows(page, '/?sort=price', BY_PRICE);
  await page.goForward();
  await listShows(page, '/?sort=price&page=2', BY_PRICE_2);

  assert.ok(await hasMarker(page), 'a patch, back or forward loaded the page');
  assert.equal(pages.joins(page), 1, 'joins: patches must not remount the list');
});

scenario('navigate links go to a product and back without a page load; push_navigate carries a flash', async (pages) => {
  const page = await pages.open(server.url('/'));
  await setMarker(page);

  await page.getByRole('link', { name: 'Catapult', exact: true }).click(); // data-phx-link="redirect"
  await text(page, '#name', 'Catapult');
  await text(page, '#price', '$450.00');
  await waitPath(page, '/products/3');
  await waitTitle(page, 'Catapult');
  await waitConnected(page);
  await page.click('#next-product'); // a patch of the product view
  await text(page, '#name', 'Dynamite');
  await waitPath(page, '/products/4');
  await page.click('#back'); // "back to the list": a navigate link
  await listShows(page, '/', BY_NAME);
  await waitConnected(page);

  await page.goBack();
  await text(page, '#name', 'Dynamite');
  await waitPath(page, '/products/4');
  await waitConnected(page);
  await page.goBack();
  await text(page, '#name', 'Catapult');
  await waitPath(page, '/products/3');
  await waitConnected(page);
  await page.goBack();
  await listShows(page, '/', BY_NAME);
  await waitConnected(page);
  await page.goForward();
  await text(page, '#name', 'Catapult');
  await waitConnected(page);
  await page.click('#back');
  await listShows(page, '/', BY_NAME);
  await waitConnected(page);

  await page.click('#cheapest'); // push_navigate with a flash
  await text(page, '#name', 'Birdseed');
  await waitPath(page, '/products/2');
  await text(page, '.flash-info', 'Our cheapest product: Birdseed.');
  await waitConnected(page);
  await page.click('.flash-info'); // lv:clear-flash
  await waitGone(page, '.flash-info');
  await text(page, '#name', 'Birdseed');

  assert.ok(await hasMarker(page), 'a navigation loaded the page');
});

scenario('a product that does not exist and a bad sort order are shown on the page', async (pages) => {
  const missing = await pages.open(server.url('/products/99'), { name: '/products/99' });
  await text(missing, '#missing', 'There is no product "99".');
  await waitTitle(missing, 'No such product');
  assert.equal(await missing.locator('#name').count(), 0, 'a product shown for /products/99');
  await setMarker(missing);
  await missing.click('#back');
  await listShows(missing, '/', BY_NAME);
  assert.ok(await hasMarker(missing), 'going back to the list loaded the page');

  const badSort = await pages.open(server.url('/?sort=colour'), { name: '/?sort=colour' });
  await text(badSort, '#problem', 'There is no sort order "colour": sorted by name.');
  await texts(badSort, '#products a', BY_NAME);
  await badSort.click('#sort-price');
  await listShows(badSort, '/?sort=price', BY_PRICE);
  await waitGone(badSort, '#problem');
});

scenario('an unknown event and a refused click are shown in the flash; the view stays', async (pages) => {
  const page = await pages.open(server.url('/?sort=price&page=3'));
  await texts(page, '#products a', ['Catapult']);
  assert.equal(await page.locator('#next').isDisabled(), true, '#next on the last page');

  // pushed by hand, as a click's JS command would
  await page.evaluate(() =>
    window.liveSocket.execJS(document.querySelector('[data-phx-main]'), '[["push",{"event":"bogus"}]]', 'click'),
  );
  await text(page, '.flash-error', 'unknown event "bogus"');
  await page.click('.flash-error');
  await waitGone(page, '.flash-error');

  // "next page" on the last page, sent anyway: the view refuses it
  await page.evaluate(() =>
    window.liveSocket.execJS(document.querySelector('#next'), '[["push",{"event":"next_page"}]]', 'click'),
  );
  await text(page, '.flash-error', 'This is the last page.');
  await waitPath(page, '/?sort=price&page=3');

  // the same view goes on
  await page.click('#sort-name');
  await listShows(page, '/?sort=name', BY_NAME);
  assert.equal(pages.joins(page), 1, 'joins: a refused event must not remount the view');
});

scenario('a tampered session token makes the client load the page afresh, which works', async (pages) => {
  const page = await pages.open(server.url('/?sort=price'));
  await texts(page, '#products a', BY_PRICE);
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
  await listShows(page, '/?sort=price', BY_PRICE);
  await page.click('#sort-name');
  await listShows(page, '/?sort=name', BY_NAME);
});
