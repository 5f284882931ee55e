// Live views of livestate-view-testapp (crates/livestate-testkit/src/views.rs) in Chromium,
// driven by the stock phoenix_live_view client of line 1.1 (1.1.32) and of line 1.2
// (1.2.12): clicks, forms, keys, hooks, patches, navigation, flash, reconnects, a tampered
// session, on_mount, client bindings and errors. Every scenario runs on both lines, each
// line with a server of its own; one browser for the file.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from './helpers.mjs';
import {
  CONNECTED,
  LINES,
  SERVER_LV_VERSION,
  TEST,
  WAIT,
  hasMarker,
  setMarker,
  startRestartableTestApp,
  startTestApp,
  text,
  textNow,
  texts,
  waitAttribute,
  waitConnected,
  waitGone,
  waitPath,
  waitTitle,
  withLivePages,
} from './views_helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

for (const line of LINES) {
  describe(`phoenix_live_view ${line.version} (line ${line.name})`, () => {
    let server;
    before(async () => {
      server = await startTestApp();
    });
    after(async () => {
      if (server) {
        const exit = await server.stop();
        assert.equal(exit.code, 0, `the test app did not exit cleanly (${JSON.stringify(exit)}); stderr:\n${server.stderr()}`);
      }
    });

    /** A scenario on this line with the shared server. */
    const scenario = (name, body) => test(name, TEST, () => withLivePages(browser, [server], line, body));

    scenario('1. clicks, one a JS push with a value, change the count and the title', async (pages) => {
      const page = await pages.open(server.url('/counter'));
      await text(page, '#count', '0');
      await text(page, '#connected', 'true');
      await waitTitle(page, 'Counter 0');
      await page.click('#inc');
      await text(page, '#count', '1');
      await page.click('#inc');
      await text(page, '#count', '2');
      await waitTitle(page, 'Counter 2');
      await page.click('#dec'); // [["push",{"event":"add","value":{"by":"-1"}}]]
      await text(page, '#count', '1');
      await waitTitle(page, 'Counter 1');
      // the server says it is 1.2.12: the 1.1 client warns once, the 1.2 client not at all
      assert.equal(pages.mismatchWarnings, line.version === SERVER_LV_VERSION ? 0 : 1, 'version-mismatch warnings');
    });

    scenario('2. phx-change validates with _target, phx-submit saves and puts a flash', async (pages) => {
      const page = await pages.open(server.url('/form'));
      await page.locator('#email').pressSequentially('ann');
      await text(page, '#error', 'an email needs an @');
      await text(page, '#target', 'user.email');
      await page.fill('#email', 'ann@x');
      await waitGone(page, '#error'); // the validation of "ann@x"
      await page.click('#save');
      await texts(page, '#saved li', ['ann@x']);
      await text(page, '#flash', 'saved ann@x');
      assert.equal(await page.locator('#error').count(), 0, '#error after a valid save');
      assert.equal(await page.inputValue('#email'), '', 'the saved form keeps the email the server cleared');
    });

    scenario('3. phx-keyup sends each key', async (pages) => {
      const page = await pages.open(server.url('/keys'));
      await page.focus('#keys');
      await page.keyboard.press('a');
      await text(page, '#last', 'a');
      await page.keyboard.press('Enter');
      await text(page, '#last', 'Enter');
      assert.equal(await textNow(page, '#key-count'), '2');
    });

    scenario("4. a hook's pushEvent gets its reply, push_event reaches handleEvent", async (pages) => {
      const page = await pages.open(server.url('/hook'));
      await text(page, '#pings', '0');
      await page.click('#pinger'); // pushEvent("ping", {n: 1})
      await text(page, '#pings', '1');
      await page.waitForSelector('#pinger[data-reply]', { state: 'attached' });
      const reply = await page.getAttribute('#pinger', 'data-reply');
      assert.deepEqual(JSON.parse(reply), { n: 2, pings: 1 }, `the reply ${reply}`);
      await waitAttribute(page, '#pinger', 'data-pushed', '1');
    });

    scenario('5. live_patch and push_patch change the URL without a remount; back and forward', async (pages) => {
      const page = await pages.open(server.url('/patch'));
      await text(page, '#tab', 'a');
      await text(page, '#mounts', '1');
      await text(page, '#params-calls', '1');
      await setMarker(page);
      await page.click('#tab-b'); // a live_patch link
      await text(page, '#tab', 'b');
      await waitPath(page, '/patch?tab=b');
      assert.equal(await textNow(page, '#mounts'), '1', 'mounts after a live_patch');
      assert.equal(await textNow(page, '#params-calls'), '2', 'handle_params calls after a live_patch');
      assert.ok(await hasMarker(page), 'the live_patch loaded a page');
      await page.click('#tab-c'); // the server's push_patch
      await text(page, '#tab', 'c');
      await waitPath(page, '/patch?tab=c');
      await page.goBack();
      await text(page, '#tab', 'b');
      await waitPath(page, '/patch?tab=b');
      await page.goForward();
      await text(page, '#tab', 'c');
      await waitPath(page, '/patch?tab=c');
      // one handle_params for the mount, each patch and each step in history; one join
      assert.equal(await textNow(page, '#params-calls'), '5', 'handle_params calls');
      assert.equal(await textNow(page, '#mounts'), '1', 'mounts after back and forward');
      assert.equal(pages.joins(page), 1, 'joins: patches must not remount');
      assert.ok(await hasMarker(page), 'a page was loaded on the way');
    });

    // Fails today (a server bug): after push_patch, handle_params gets the patch's `to`
    // ("/patch?tab=c") as its uri, and @uri shows it, where the join and the client's
    // live_patch give the full URL ("http://127.0.0.1:PORT/patch?tab=b"), as Phoenix does in
    // every case and as `Live::uri` says ("the page's URL as the client shows it").
    scenario("5b. @uri is the page's full URL after a live_patch and after push_patch", async (pages) => {
      const page = await pages.open(server.url('/patch'));
      await text(page, '#uri', server.url('/patch'));
      await page.click('#tab-b');
      await text(page, '#tab', 'b');
      await text(page, '#uri', server.url('/patch?tab=b'));
      await page.click('#tab-c'); // push_patch("/patch?tab=c")
      await text(page, '#tab', 'c');
      await waitPath(page, '/patch?tab=c');
      assert.equal(await textNow(page, '#uri'), page.url(), '@uri after push_patch (handle_params got this uri)');
    });

    scenario('6. navigation within a live session: a link, then push_navigate with a flash', async (pages) => {
      const page = await pages.open(server.url('/nav/one'));
      await text(page, '#page', 'one');
      await waitTitle(page, 'Nav one');
      await setMarker(page);
      await page.click('#to-two'); // data-phx-link="redirect"
      await text(page, '#page', 'two');
      await waitTitle(page, 'Nav two');
      await waitPath(page, '/nav/two');
      await waitConnected(page);
      assert.ok(await hasMarker(page), 'the navigate link loaded a page');
      await page.click('#other'); // push_navigate to /nav/one with the flash "from two"
      await text(page, '#page', 'one');
      await text(page, '#flash', 'from two');
      await waitPath(page, '/nav/one');
      await waitTitle(page, 'Nav one');
      await waitConnected(page);
      assert.ok(await hasMarker(page), 'push_navigate within the live session loaded a page');
      assert.equal(pages.joins(page), 3, 'joins: the page, then one per navigation');
      await page.goBack(); // to /nav/two again: a live navigation too, without the flash
      await text(page, '#page', 'two');
      await waitPath(page, '/nav/two');
      await waitTitle(page, 'Nav two');
      await waitConnected(page);
      assert.equal(await page.locator('#flash p').count(), 0, 'a flash on /nav/two after going back');
      assert.equal(pages.joins(page), 4, 'joins after going back');
      assert.ok(await hasMarker(page), 'going back loaded a page');
    });

    scenario('7. a flash shows, and lv:clear-flash clears it', async (pages) => {
      const page = await pages.open(server.url('/counter'));
      await page.click('#flash-btn');
      await text(page, '.flash-info', 'count is 0');
      await page.click('.flash-info'); // phx-click="lv:clear-flash" phx-value-key="info"
      await waitGone(page, '.flash-info');
      // the server forgot it: the next change does not bring it back, a new one shows
      await page.click('#inc');
      await text(page, '#count', '1');
      assert.equal(await page.locator('#flash p').count(), 0, 'a flash came back after a change');
      await page.click('#flash-btn');
      await text(page, '.flash-info', 'count is 1');
    });

    test('8. after the server restarts on the same port, the page reconnects by itself and remounts', TEST, async () => {
      const restartable = await startRestartableTestApp();
      try {
        await withLivePages(browser, [restartable], line, async (pages) => {
          pages.allow(/^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/live\/websocket\?.*' failed/);
          const page = await pages.open(restartable.url('/counter'));
          for (let i = 1; i <= 3; i++) {
            await page.click('#inc');
            await text(page, '#count', String(i));
          }
          await setMarker(page);
          const killed = await restartable.kill();
          assert.equal(killed.signal, 'SIGKILL');
          await page.waitForSelector(CONNECTED, { state: 'detached' }); // the client saw the socket go
          await restartable.restart();
          await text(page, '#count', '0');
          await pages.connected(page);
          assert.ok(await hasMarker(page), 'the page was loaded again instead of reconnecting');
          assert.equal(pages.joins(page), 2, 'joins: the first and the rejoin');
          await page.click('#inc');
          await text(page, '#count', '1');
        });
      } finally {
        await restartable.stop();
      }
    });

    scenario('9. two tabs on /counter are two views', async (pages) => {
      const a = await pages.open(server.url('/counter'), { name: 'tab A' });
      const b = await pages.open(server.url('/counter'), { name: 'tab B', context: a.context() });
      // the tab in front runs at full speed (Chromium throttles the timers of one behind)
      await a.bringToFront();
      await a.click('#inc');
      await text(a, '#count', '1');
      await a.click('#inc');
      await text(a, '#count', '2');
      await b.bringToFront();
      await b.click('#dec'); // B's count was still 0
      await text(b, '#count', '-1');
      await a.bringToFront();
      await a.click('#inc'); // A's was still 2
      await text(a, '#count', '3');
      await waitTitle(a, 'Counter 3');
      await waitTitle(b, 'Counter -1');
      assert.equal(await textNow(b, '#count'), '-1');
    });

    scenario('10. a tampered session token makes the client load the page afresh', async (pages) => {
      const page = await pages.open(server.url('/counter'));
      await page.click('#inc');
      await text(page, '#count', '1');
      await setMarker(page);
      const { before, after } = await page.evaluate(() => {
        const root = document.querySelector('[data-phx-main]');
        const token = root.getAttribute('data-phx-session');
        let i = Math.floor(token.length / 2);
        while (token[i] === '.') i += 1;
        const swapped = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
        root.setAttribute('data-phx-session', swapped);
        return { before: token, after: swapped };
      });
      assert.notEqual(before, after);
      const loaded = page.waitForEvent('load', { timeout: WAIT });
      await page.evaluate(() => window.liveSocket.socket.conn.close()); // the socket drops: rejoin
      await loaded;
      await pages.connected(page);
      assert.equal(await hasMarker(page), false, 'no page load after the rejoin with a tampered token');
      const fresh = await page.getAttribute('[data-phx-main]', 'data-phx-session');
      assert.notEqual(fresh, after, 'the fresh page has the tampered token');
      await text(page, '#count', '0');
      await page.click('#inc');
      await text(page, '#count', '1');
    });

    scenario('11. on_mount sends a page without a user to /login with a flash; with the cookie it mounts', async (pages) => {
      const anon = await pages.open(server.url('/private'), { name: 'without a user' });
      await waitPath(anon, '/login');
      await text(anon, '#flash', 'log in first');
      await text(anon, 'h1', 'login');
      const context = await pages.newContext({ cookies: [{ name: 'user', value: 'ann', url: server.url('/') }] });
      const ann = await pages.open(server.url('/private'), { name: 'with user=ann', context });
      await text(ann, '#user', 'ann');
      await waitPath(ann, '/private');
    });

    scenario('12a. phx-debounce sends fewer changes than keystrokes', async (pages) => {
      const page = await pages.open(server.url('/bindings'));
      await page.locator('#q').pressSequentially('hello');
      await text(page, '#query', 'hello');
      const changes = Number(await textNow(page, '#changes'));
      assert.ok(changes >= 1 && changes < 5, `${changes} change events for 5 keystrokes`);
    });

    scenario('12b. phx-throttle lets one click of five through', async (pages) => {
      const page = await pages.open(server.url('/bindings'));
      for (let i = 0; i < 5; i++) await page.click('#throttled');
      await text(page, '#clicks', '1');
      // a later round trip (leaving #q sends its debounced change at once): every click
      // that got through was handled before it
      await page.locator('#q').pressSequentially('x');
      await page.locator('#q').blur();
      await text(page, '#query', 'x');
      assert.equal(await textNow(page, '#clicks'), '1', 'clicks after five throttled clicks');
    });

    scenario('12c. phx-update="ignore" keeps what the client put there', async (pages) => {
      const page = await pages.open(server.url('/bindings'));
      await text(page, '#ignored', 'server: 0');
      await page.evaluate(() => (document.querySelector('#ignored').textContent = 'client'));
      await page.click('#throttled');
      await text(page, '#clicks', '1');
      assert.equal(await textNow(page, '#ignored'), 'client', 'the server re-rendered an ignored element');
    });

    scenario('13. a failing handler and an unknown event leave the view; a panic remounts it', async (pages) => {
      // the client logs the error of each event the server answers with one
      const failed = /^Failed to push event .*failed with reason: \{"reason":"this handler fails"\}/s;
      const unknown = /^Failed to push event .*failed with reason: \{"reason":"unknown event \\"no_such_event\\""\}/s;
      pages.allow(failed);
      pages.allow(unknown);
      const page = await pages.open(server.url('/counter'));
      await setMarker(page);
      await page.click('#inc');
      await text(page, '#count', '1');
      await page.click('#fail'); // the handler returns an error
      await page.click('#inc');
      await text(page, '#count', '2'); // the same view: no remount
      await waitConnected(page);
      assert.equal(await page.locator('#fail.phx-click-loading').count(), 0, '#fail is still loading');
      assert.equal(pages.joins(page), 1, 'joins after a failing handler');
      await page.click('#crash'); // the handler panics
      await text(page, '#count', '0'); // mounted afresh
      await pages.connected(page);
      assert.ok(await hasMarker(page), 'the crash loaded the page again');
      await page.click('#inc');
      await text(page, '#count', '1');
      await page.click('#unknown'); // no_such_event
      await page.click('#inc');
      await text(page, '#count', '2'); // the same view
      await waitConnected(page);
      assert.equal(pages.joins(page), 2, 'joins: the first and the rejoin after the panic');
      assert.ok(await hasMarker(page), 'a page load on the way');
      assert.equal(pages.seen(failed), 1, "the client's errors for #fail");
      assert.equal(pages.seen(unknown), 1, "the client's errors for #unknown");
    });

    scenario('14. a timer (send_after, handle_info) pushes diffs the page shows', async (pages) => {
      const page = await pages.open(server.url('/counter'));
      await text(page, '#ticks', '0');
      await page.click('#tick'); // three ticks, 10 ms apart, each a diff pushed without a ref
      await text(page, '#ticks', '3');
      await page.click('#inc'); // later than the last tick: no fourth one came before it
      await text(page, '#count', '1');
      assert.equal(await textNow(page, '#ticks'), '3');
    });
  });
}
