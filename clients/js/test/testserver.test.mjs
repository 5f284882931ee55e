// The stock LiveState client (phx-live-state 0.12.3) against `livestate-testserver serve`,
// with phoenix 1.7 and 1.8: init errors, join refusals, reply events, version wrap, crashes.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, loadBundles, uniqueTopic, joined, open, sleep } from './helpers.mjs';

const bundles = await loadBundles();
const T = { timeout: 20_000 };

let server;
before(async () => {
  server = await startServer('testserver');
});
after(async () => {
  if (!server) return; // it did not start: `before` failed already
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `livestate-testserver was killed by ${signal}`);
  assert.equal(code, 0, `livestate-testserver exited with ${code} on SIGTERM; stderr:\n${server.stderr()}`);
});

for (const bundle of bundles) {
  describe(`test channels with ${bundle.name}`, () => {
    test('init error: livestate-error with the init failure message', T, async (t) => {
      const topic = uniqueTopic('fail');
      const c = open(t, bundle, server, topic);
      const err = await c.waitFor('livestate-error');
      assert.deepEqual(err, { message: `init failed for ${topic}` });
      // The join itself succeeded (LiveState keeps the channel joined) and no state came.
      const join = c.framesOf('out', 'phx_join')[0];
      const reply = c.framesOf('in', 'phx_reply').find((f) => f[1] === join[1]);
      assert.equal(reply[4].status, 'ok');
      assert.equal(c.events.get('livestate-change').length, 0);
      assert.equal(c.ls.state, undefined);
    });

    test('init error, then a joiner whose init succeeds: both get the state', T, async (t) => {
      const topic = uniqueTopic('fail');
      const a = open(t, bundle, server, topic);
      await a.waitFor('livestate-error');
      const b = await joined(t, bundle, server, topic, { params: { ok: true } });
      assert.deepEqual(b.events.get('livestate-change')[0], { state: { ok: true }, version: 0 });
      assert.equal(b.events.get('livestate-error').length, 0);
      const change = await a.waitFor('livestate-change');
      assert.deepEqual(change, { state: { ok: true }, version: 0 });
    });

    test('join refused: livestate-error carries the reason; the right params join', T, async (t) => {
      const refused = open(t, bundle, server, uniqueTopic('auth'), { params: { token: 'wrong' } });
      const err = await refused.waitFor('livestate-error');
      assert.deepEqual(err, { type: 'channel join error', message: 'unauthorized' });
      assert.equal(refused.events.get('livestate-change').length, 0);

      const ok = await joined(t, bundle, server, uniqueTopic('auth'), { params: { token: 'secret' } });
      assert.deepEqual(ok.events.get('livestate-change')[0], { state: {}, version: 0 });
      assert.equal(ok.events.get('livestate-error').length, 0);
    });

    test('reply events: addEventListener("echoed") receives {count: N}', T, async (t) => {
      const topic = uniqueTopic('counter');
      const a = await joined(t, bundle, server, topic, { listen: ['echoed'] });
      const b = await joined(t, bundle, server, topic, { listen: ['echoed'] });
      a.send('increment');
      a.send('increment');
      a.send('increment');
      await a.waitForVersion(3);
      assert.deepEqual(a.ls.state, { count: 3 });

      a.send('echo');
      const echoed = await a.waitFor('echoed');
      assert.deepEqual(echoed, { count: 3 });
      // The echo moves the version like any handled event; the reply comes before the patch.
      await a.waitForVersion(4);
      const at = (event, pred = () => true) =>
        a.frames.findIndex((f) => f.dir === 'in' && f.frame[3] === event && pred(f.frame));
      const echoedAt = at('echoed');
      const patchAt = at('state:patch', (f) => f[4].version === 4);
      assert.ok(echoedAt >= 0 && echoedAt < patchAt, a.transcript());
      // Only the sender gets it.
      await b.waitForVersion(4);
      assert.equal(b.events.get('echoed').length, 0, b.transcript());
      assert.equal(a.events.get('echoed').length, 1);
    });

    test('version wrap: 16 increments on counter10 end at count 16, version 5', T, async (t) => {
      const topic = uniqueTopic('counter10');
      const c = await joined(t, bundle, server, topic);
      assert.deepEqual(c.events.get('livestate-change')[0], { state: { count: 0 }, version: 0 });
      const versions = [];
      for (let i = 1; i <= 16; i++) {
        const since = c.mark();
        c.send('increment');
        const change = await c.waitFor('livestate-change', () => true, {
          since,
          what: `livestate-change after increment ${i}`,
        });
        assert.equal(change.state.count, i, c.transcript());
        versions.push(change.version);
      }
      assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, 5]);
      assert.deepEqual(c.ls.state, { count: 16 });
      assert.equal(c.ls.stateVersion, 5);
      // Every patch was accepted: the client never asked for a refresh.
      assert.equal(c.framesOf('out', 'lvs_refresh').length, 0, c.transcript());
      assert.equal(c.framesOf('in', 'state:change').length, 1, c.transcript());
      // A late joiner agrees.
      const late = await joined(t, bundle, server, topic);
      assert.deepEqual(late.events.get('livestate-change')[0], { state: { count: 16 }, version: 5 });
    });

    test('a crashing handler: phx_error, the client rejoins and gets the state before the event', T, async (t) => {
      const topic = uniqueTopic('panic');
      const a = await joined(t, bundle, server, topic);
      const b = await joined(t, bundle, server, topic);
      a.send('put', { path: '/a', value: 1 });
      await a.waitForVersion(1);
      await b.waitForVersion(1);

      const since = a.mark();
      a.send('boom');
      const err = await a.waitFor('livestate-error');
      assert.equal(err.type, 'channel error');
      // phoenix rejoins after 1 s and the join brings the state, without the half-done change.
      const change = await a.waitFor('livestate-change', () => true, { since, what: 'the state after the rejoin' });
      assert.deepEqual(change, { state: { a: 1 }, version: 1 });
      assert.equal(a.framesOf('out', 'phx_join').length, 2, a.transcript());
      assert.equal(a.framesOf('in', 'phx_error').length, 1, a.transcript());

      // The other client saw nothing of it, and both go on.
      b.send('put', { path: '/b', value: 2 });
      await a.waitForVersion(2);
      await b.waitForVersion(2);
      assert.deepEqual(a.ls.state, { a: 1, b: 2 });
      assert.deepEqual(b.ls.state, { a: 1, b: 2 });
      assert.equal(b.events.get('livestate-error').length, 0);
    });

    // A Phoenix server forgets a crashed channel: the rejoin is a plain join, with no
    // phx_close for the crashed join_ref.
    test(
      'after phx_error the rejoin is a plain join (no phx_close for the crashed join_ref)',
      T,
      async (t) => {
        const topic = uniqueTopic('panic');
        const a = await joined(t, bundle, server, topic);
        const since = a.mark();
        a.send('boom');
        await a.waitFor('livestate-change', () => true, { since, what: 'the state after the rejoin' });
        await sleep(100);
        assert.deepEqual(a.framesOf('in', 'phx_close'), [], a.transcript());
      },
    );

    test('conn: topics: one doc per join', T, async (t) => {
      const topic = uniqueTopic('conn');
      const a = await joined(t, bundle, server, topic);
      const b = await joined(t, bundle, server, topic);
      a.send('put', { path: '/mine', value: 'a' });
      await a.waitForVersion(1);
      await sleep(100);
      assert.deepEqual(a.ls.state, { mine: 'a' });
      assert.deepEqual(b.ls.state, {});
      assert.equal(b.framesOf('in', 'state:patch').length, 0, b.transcript());
    });
  });
}
