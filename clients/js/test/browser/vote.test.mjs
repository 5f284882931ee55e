// examples/vote in Chromium: the live view at / (the stock phoenix_live_view client the
// server serves, /live/live.js) and the phx-live-state page at /plain (/livestate.js) on the
// same key: a vote in either appears in both, with its bars; a second vote is refused with
// its reason on both; the same browser is the same voter on both pages; bad input shown on
// the page; a tampered session token reloads the page, which works again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, waitAttribute, waitGone } from './views_helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('vote');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

/** A poll of its own for each scenario (the key vote:NAME). */
let polls = 0;
const newPoll = () => `browser-${++polls}`;

/** Opens the phx-live-state page of `poll` (no live view there) once it has the key's state. */
async function openPlain(pages, poll, options = {}) {
  const page = await pages.open(server.url(`/plain?poll=${poll}`), { ...options, connect: false });
  await text(page, '#question', "What's for lunch?");
  return page;
}

/** Waits until both pages show these totals of pizza, sushi, salad. */
async function totals(pagesToCheck, [pizza, sushi, salad]) {
  for (const page of pagesToCheck) {
    await text(page, '#total-pizza', String(pizza));
    await text(page, '#total-sushi', String(sushi));
    await text(page, '#total-salad', String(salad));
    await text(page, '#votes', String(pizza + sushi + salad));
  }
}

scenario('a vote on the live view or on the phx-live-state page appears in both', async (pages) => {
  const poll = newPoll();
  const view = await pages.open(server.url(`/?poll=${poll}`), { name: 'view page' });
  // another browser context: another voter
  const plain = await openPlain(pages, poll, { name: 'plain page' });
  await totals([view, plain], [0, 0, 0]);

  // a vote on the view page: both pages count it
  await view.click('#vote-pizza');
  await text(view, '#flash-info', 'your vote for pizza counted');
  await text(view, '#voted', 'You have voted.');
  await totals([view, plain], [1, 0, 0]);
  await waitAttribute(view, '#bar-pizza', 'style', 'width: 100%');

  // a vote on the phx-live-state page: both pages count it
  await plain.click('#vote-salad');
  await text(plain, '#message', 'your vote for salad counted');
  await totals([view, plain], [1, 0, 1]);
  await waitAttribute(view, '#bar-pizza', 'style', 'width: 50%');
  await waitAttribute(view, '#bar-salad', 'style', 'width: 50%');

  // a second vote: refused, with the channel's reason, on either page
  await view.click('#vote-sushi');
  await text(view, '#flash-error', 'you have voted already');
  await plain.click('#vote-sushi');
  await text(plain, '#error', 'you have voted already');
  await totals([view, plain], [1, 0, 1]);

  // the view page's browser on the phx-live-state page: the same voter (the voter cookie)
  const same = await openPlain(pages, poll, { name: 'plain page, the view page’s browser', context: view.context() });
  await totals([same], [1, 0, 1]);
  await same.click('#vote-salad');
  await text(same, '#error', 'you have voted already');
  // a third browser votes there and everyone sees it
  const third = await openPlain(pages, poll, { name: 'plain page, a third browser' });
  await third.click('#vote-sushi');
  await text(third, '#message', 'your vote for sushi counted');
  await totals([view, plain, same, third], [1, 1, 1]);
  assert.equal(pages.joins(view), 1, 'the view page joined again');
});

scenario('bad input is shown on the page', async (pages) => {
  const poll = newPoll();
  const view = await pages.open(server.url(`/?poll=${poll}`));
  // an event the view does not know, pushed by hand
  await view.evaluate(() => {
    window.liveSocket.execJS(document.querySelector('#vote'), '[["push",{"event":"bogus"}]]', 'click');
  });
  await text(view, '#flash-error', 'unknown event "bogus"');
  await view.click('#flash-error'); // lv:clear-flash
  await waitGone(view, '#flash-error');
  // an option the poll does not have: the channel's reason
  await view.evaluate(() => {
    const push = '[["push",{"event":"vote","value":{"option":"tacos"}}]]';
    window.liveSocket.execJS(document.querySelector('#vote'), push, 'click');
  });
  await text(view, '#flash-error', 'this poll has no option "tacos"');
  // a vote without its option: the view's decoder names the field
  await view.evaluate(() => {
    window.liveSocket.execJS(document.querySelector('#vote'), '[["push",{"event":"vote"}]]', 'click');
  });
  await text(view, '#flash-error', 'bad payload for vote: missing field `option`');
  // the same on the phx-live-state page (its vote() pushes on the client's channel)
  const plain = await openPlain(pages, poll);
  await plain.evaluate(() => window.vote('tacos'));
  await text(plain, '#error', 'this poll has no option "tacos"');
  // nothing was counted, and the view stayed
  await totals([view, plain], [0, 0, 0]);
  await view.click('#vote-sushi');
  await totals([view, plain], [0, 1, 0]);
  assert.equal(pages.joins(view), 1, 'joins: the view stayed');
});

scenario('a tampered session token makes the client load the page afresh, which works again', async (pages) => {
  const poll = newPoll();
  const page = await pages.open(server.url(`/?poll=${poll}`));
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
  // the new view is attached to the key and votes
  await page.click('#vote-pizza');
  await text(page, '#flash-info', 'your vote for pizza counted');
  await totals([page], [1, 0, 0]);
  const plain = await openPlain(pages, poll);
  await totals([plain], [1, 0, 0]);
});
