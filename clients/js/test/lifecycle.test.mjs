// Connection life cycle with the stock client, phoenix 1.7 and 1.8, against `livestate serve`
// with short limits: heartbeats, idle timeout and reconnect, oversized frames, key TTL.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, loadBundles, uniqueTopic, joined, sleep } from './helpers.mjs';

const bundles = await loadBundles();
const T = { timeout: 20_000 };
const IDLE_S = 1;
const TTL_S = 1;
const MAX_FRAME = 2000;

let server;
before(async () => {
  server = await startServer('livestate', [
    '--idle-timeout',
    String(IDLE_S),
    '--ttl',
    String(TTL_S),
    '--max-frame-size',
    String(MAX_FRAME),
  ]);
});
after(async () => {
  if (!server) return; // it did not start: `before` failed already
  const { code } = await server.stop();
  assert.equal(code, 0, `livestate exited with ${code} on SIGTERM; stderr:\n${server.stderr()}`);
});

/** Clients in this file beat every 250 ms (the server's idle timeout is 1 s), unless told. */
const BEAT = { socketOptions: { heartbeatIntervalMs: 250 } };

for (const bundle of bundles) {
  describe(`life cycle with ${bundle.name}`, () => {
    test('heartbeats are answered and keep the socket open; a silent socket is closed, reconnects and rejoins', T, async (t) => {
      const topic = uniqueTopic('doc');
      const beating = await joined(t, bundle, server, topic, BEAT);
      const silent = await joined(t, bundle, server, topic); // phoenix's default: every 30 s
      beating.send('put', { path: '/x', value: 1 });
      await silent.waitForVersion(1);

      const since = silent.mark();
      await sleep(IDLE_S * 1000 + 1200);
      // The silent one was closed (4001), reconnected by phoenix, rejoined, and got the state.
      assert.ok(silent.rec.closes.some((c) => c.code === 4001), JSON.stringify(silent.rec.closes));
      const rejoined = await silent.waitFor('livestate-change', () => true, { since, what: 'the state after the rejoin' });
      assert.deepEqual(rejoined, { state: { x: 1 }, version: 1 });
      assert.ok(silent.framesOf('out', 'phx_join').length >= 2, silent.transcript());

      // The beating one stayed connected, every heartbeat got an ok reply.
      assert.deepEqual(beating.rec.closes, []);
      const beats = beating.framesOf('out', 'heartbeat');
      assert.ok(beats.length >= 4, `only ${beats.length} heartbeats`);
      for (const hb of beats.slice(0, -1)) {
        assert.deepEqual(hb.slice(0, 3), [null, hb[1], 'phoenix']);
        const reply = beating.framesOf('in', 'phx_reply').find((f) => f[2] === 'phoenix' && f[1] === hb[1]);
        assert.deepEqual(reply, [null, hb[1], 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
      }

      // Both follow later changes.
      beating.send('put', { path: '/y', value: 2 });
      await silent.waitForVersion(2);
      assert.deepEqual(silent.ls.state, { x: 1, y: 2 });
      assert.equal(silent.framesOf('out', 'lvs_refresh').length, 0, silent.transcript());
    });

    test('an oversized frame closes the socket (1009); the client reconnects with the state unchanged', T, async (t) => {
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, server, topic, BEAT);
      const b = await joined(t, bundle, server, topic, BEAT);
      a.send('put', { path: '/small', value: 1 });
      await b.waitForVersion(1);
      await a.waitForVersion(1); // its own change, so that the mark comes after it
      const since = a.mark();
      a.send('put', { path: '/big', value: 'x'.repeat(MAX_FRAME + 100) });
      const back = await a.waitFor('livestate-change', () => true, { since, what: 'the state after reconnecting' });
      assert.deepEqual(back, { state: { small: 1 }, version: 1 });
      assert.equal(a.rec.closes[0]?.code, 1009, JSON.stringify(a.rec.closes));
      // The other client saw nothing and stayed connected.
      a.send('put', { path: '/after', value: 2 });
      await b.waitForVersion(2);
      assert.deepEqual(b.ls.state, { small: 1, after: 2 });
      assert.deepEqual(b.rec.closes, []);
    });

    test('a key lives for the TTL after its last subscriber left, then starts over', T, async (t) => {
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, server, topic, BEAT);
      a.send('put', { path: '/kept', value: true });
      await a.waitForVersion(1);
      a.close();

      await sleep(200);
      const within = await joined(t, bundle, server, topic, BEAT);
      assert.deepEqual(within.events.get('livestate-change')[0], { state: { kept: true }, version: 1 });
      within.close();

      await sleep(TTL_S * 1000 + 1500);
      const later = await joined(t, bundle, server, topic, BEAT);
      assert.deepEqual(later.events.get('livestate-change')[0], { state: {}, version: 0 });
    });

    test('disconnect, then connect the same LiveState again: it rejoins and gets the state', T, async (t) => {
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, server, topic, BEAT);
      const b = await joined(t, bundle, server, topic, BEAT);
      a.send('put', { path: '/v', value: 1 });
      await b.waitForVersion(1);
      b.ls.disconnect();
      a.send('put', { path: '/v', value: 2 });
      await a.waitForVersion(2);
      const since = b.mark();
      b.connect();
      const change = await b.waitFor('livestate-change', () => true, { since, what: 'the state after connecting again' });
      assert.deepEqual(change, { state: { v: 2 }, version: 2 });
      a.send('put', { path: '/v', value: 3 });
      await b.waitForVersion(3);
      assert.deepEqual(b.ls.state, { v: 3 });
    });
  });
}
