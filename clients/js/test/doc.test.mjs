// The stock LiveState client (phx-live-state 0.12.3) against `livestate serve`, with
// phoenix 1.7 and 1.8: shared `doc:` topics.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, loadBundles, uniqueTopic, joined, open } from './helpers.mjs';

const bundles = await loadBundles();
const T = { timeout: 20_000 };

let server;
before(async () => {
  server = await startServer('livestate');
});
after(async () => {
  if (!server) return; // it did not start: `before` failed already
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `livestate was killed by ${signal}`);
  assert.equal(code, 0, `livestate exited with ${code} on SIGTERM; stderr:\n${server.stderr()}`);
});

/** The server's state of a topic: what a fresh client gets in its first livestate-change. */
async function serverTruth(t, bundle, topic) {
  const c = await joined(t, bundle, server, topic);
  const first = c.events.get('livestate-change')[0];
  c.close();
  return first;
}

/** Sends an event and waits for the sender's next livestate-change (patch applied or change). */
async function sendAndWait(c, name, detail) {
  const since = c.mark();
  c.send(name, detail);
  return c.waitFor('livestate-change', () => true, { since, what: `livestate-change after ${name}` });
}

for (const bundle of bundles) {
  describe(`doc: topics with ${bundle.name}`, () => {
    test('join: the first livestate-change of a fresh topic is {state: {}, version: 0}', T, async (t) => {
      const topic = uniqueTopic('doc');
      const c = open(t, bundle, server, topic);
      const first = await c.waitFor('livestate-change');
      assert.deepEqual(first, { state: {}, version: 0 });
      assert.deepEqual(c.ls.state, {});
      assert.equal(c.ls.stateVersion, 0);
      // The join was answered ok with an empty response, as LiveState does.
      const join = c.framesOf('out', 'phx_join')[0];
      const reply = c.framesOf('in', 'phx_reply').find((f) => f[1] === join[1]);
      assert.deepEqual(reply, [join[0], join[1], topic, 'phx_reply', { status: 'ok', response: {} }]);
      assert.equal(c.events.get('livestate-error').length, 0);
    });

    test('two clients, interleaved events: both states equal the server state', T, async (t) => {
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, server, topic);
      const b = await joined(t, bundle, server, topic);

      // Setup, from a: counter, list, map.
      a.send('put', { path: '/n', value: 0 });
      a.send('put', { path: '/list', value: [] });
      a.send('put', { path: '/m', value: {} });
      let sent = 3;
      await a.waitForVersion(3);
      await b.waitForVersion(3);

      // The expected state, except the order of /list (appends of a and b interleave).
      const expected = { n: 0, list: [], m: {} };
      const ROUNDS = 20; // per client: 40 events in all
      for (let k = 0; k < ROUNDS; k++) {
        for (const [who, c] of [['a', a], ['b', b]]) {
          switch (k % 5) {
            case 0:
              c.send('put', { path: `/m/${who}${k}`, value: { k, who, nested: [k, { s: `v${k}` }] } });
              expected.m[`${who}${k}`] = { k, who, nested: [k, { s: `v${k}` }] };
              break;
            case 1: {
              const by = who === 'a' ? k : -2 * k;
              c.send('increment', { path: '/n', by });
              expected.n += by;
              break;
            }
            case 2:
              c.send('put', { path: '/list/-', value: `${who}${k}` });
              expected.list.push(`${who}${k}`);
              break;
            case 3:
              c.send('patch', {
                ops: [
                  { op: 'add', path: `/m/p${who}${k}`, value: { a: k, b: [1, 2, 3] } },
                  { op: 'add', path: `/m/p${who}${k}/b/-`, value: 4 },
                  { op: 'remove', path: `/m/p${who}${k}/b/0` },
                  { op: 'copy', from: `/m/p${who}${k}/a`, path: `/m/p${who}${k}/c` },
                  { op: 'move', from: `/m/p${who}${k}/a`, path: `/m/p${who}${k}/d` },
                  { op: 'replace', path: `/m/p${who}${k}/c`, value: `c${k}` },
                  { op: 'test', path: `/m/p${who}${k}/d`, value: k },
                  { op: 'add', path: '/list/-', value: `p${who}${k}` },
                ],
              });
              expected.m[`p${who}${k}`] = { b: [2, 3, 4], c: `c${k}`, d: k };
              expected.list.push(`p${who}${k}`);
              break;
            case 4:
              // Deletes the key this client put 4 rounds ago (same socket: already applied).
              c.send('delete', { path: `/m/${who}${k - 4}` });
              delete expected.m[`${who}${k - 4}`];
              break;
          }
          sent++;
        }
      }

      const [fa, fb] = await Promise.all([a.waitForVersion(sent), b.waitForVersion(sent)]);
      assert.deepEqual(a.ls.state, b.ls.state, 'the two clients disagree');
      assert.equal(fa.version, sent);
      assert.equal(fb.version, sent);

      const truth = await serverTruth(t, bundle, topic);
      assert.equal(truth.version, sent, 'a fresh joiner gets another version');
      assert.deepEqual(a.ls.state, truth.state, 'client a differs from the server');

      const { list, ...rest } = truth.state;
      const { list: expectedList, ...expectedRest } = expected;
      assert.deepEqual(rest, expectedRest);
      assert.deepEqual([...list].sort(), [...expectedList].sort());
      // Each client's own appends keep their order.
      for (const who of ['a', 'b']) {
        const own = (l) => l.filter((x) => x.includes(who));
        assert.deepEqual(own(list), own(expectedList));
      }

      // In order, gap-free patches: no client needed a refresh, every event was acknowledged ok.
      for (const c of [a, b]) {
        assert.equal(c.framesOf('out', 'lvs_refresh').length, 0, `${c.transcript()}`);
        const replies = c.framesOf('in', 'phx_reply').filter((f) => f[1] !== f[0]);
        assert.ok(replies.every((f) => f[4].status === 'ok'), JSON.stringify(replies));
        assert.equal(c.events.get('livestate-error').length, 0);
      }
    });

    test('a late joiner gets the current state and version', T, async (t) => {
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, server, topic);
      a.send('put', { path: '/title', value: 'hello' });
      a.send('put', { path: '/items', value: [1, 2] });
      a.send('put', { path: '/items/-', value: 3 });
      a.send('put', { path: '/count', value: 1 });
      a.send('increment', { path: '/count', by: 4 });
      await a.waitForVersion(5);
      assert.deepEqual(a.ls.state, { title: 'hello', items: [1, 2, 3], count: 5 });

      const late = await joined(t, bundle, server, topic);
      const first = late.events.get('livestate-change')[0];
      assert.deepEqual(first, { state: { title: 'hello', items: [1, 2, 3], count: 5 }, version: 5 });

      // And it follows later patches from there.
      a.send('delete', { path: '/title' });
      await late.waitForVersion(6);
      assert.deepEqual(late.ls.state, { items: [1, 2, 3], count: 5 });
      assert.equal(late.framesOf('out', 'lvs_refresh').length, 0);
    });

    test('a version gap makes the client push lvs_refresh and recover via state:change', T, async (t) => {
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, server, topic);
      const b = await joined(t, bundle, server, topic);
      await sendAndWait(b, 'put', { path: '/x', value: 1 });
      await a.waitForVersion(1);

      // Corrupt a's version: the next patch (version 2) does not follow it.
      a.ls.stateVersion = 40;
      const since = a.mark();
      b.send('put', { path: '/y', value: 2 });
      await b.waitForVersion(2);
      const change = await a.waitFor('livestate-change', (d) => d.version === 2, {
        since,
        what: 'livestate-change with version 2 (after lvs_refresh)',
      });
      assert.deepEqual(change.state, { x: 1, y: 2 });
      assert.deepEqual(a.ls.state, b.ls.state);

      // On the wire: the patch, then lvs_refresh from the client, then a state:change.
      const i = (pred) => a.frames.findIndex(pred);
      const patchAt = i((f) => f.dir === 'in' && f.frame[3] === 'state:patch' && f.frame[4].version === 2);
      const refreshAt = i((f) => f.dir === 'out' && f.frame[3] === 'lvs_refresh');
      const changeAt = a.frames.findIndex(
        (f, j) => j > refreshAt && f.dir === 'in' && f.frame[3] === 'state:change',
      );
      assert.ok(patchAt >= 0 && refreshAt > patchAt && changeAt > refreshAt, a.transcript());
      const refresh = a.frames[refreshAt].frame;
      assert.equal(refresh[2], topic);
      assert.deepEqual(refresh[4], {});
      assert.deepEqual(a.frames[changeAt].frame[4], { state: { x: 1, y: 2 }, version: 2 });
      assert.equal(a.framesOf('out', 'lvs_refresh').length, 1, a.transcript());

      // a applies later patches normally again.
      b.send('put', { path: '/z', value: 3 });
      await a.waitForVersion(3);
      assert.deepEqual(a.ls.state, { x: 1, y: 2, z: 3 });
      assert.equal(a.framesOf('out', 'lvs_refresh').length, 1, a.transcript());
    });

    test('refused events: the sender gets livestate-change, nobody\'s state changes', T, async (t) => {
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, server, topic);
      const b = await joined(t, bundle, server, topic);
      await sendAndWait(a, 'put', { path: '/a', value: { b: [1, 2] } });
      await b.waitForVersion(1);
      const state = { a: { b: [1, 2] } };

      const refused = [
        ['put', { path: '/missing/child', value: 1 }],
        ['put', { path: 'no-leading-slash', value: 1 }],
        ['put', { path: '/a/b/7', value: 1 }],
        ['put', { path: '/a/b/x', value: 1 }],
        ['delete', { path: '/nothing' }],
        ['increment', { path: '/a', by: 1 }],
        // Atomic: the first op applies, the second fails, so nothing changes.
        ['patch', { ops: [{ op: 'add', path: '/c', value: 1 }, { op: 'remove', path: '/zzz' }] }],
        ['patch', { ops: [{ op: 'test', path: '/a/b/0', value: 99 }] }],
        ['patch', { ops: [{ op: 'frobnicate', path: '/a' }] }],
        ['frobnicate', { x: 1 }],
      ];
      for (const [name, detail] of refused) {
        const before = a.framesOf('out').length;
        const change = await sendAndWait(a, name, detail);
        assert.deepEqual(change, { state, version: 1 }, `${name} ${JSON.stringify(detail)}`);
        // The push was answered with an error reply.
        const push = a.framesOf('out')[before];
        assert.equal(push[3], `lvs_evt:${name}`);
        const reply = await waitForReply(a, push[1]);
        assert.equal(reply[4].status, 'error', `${name} ${JSON.stringify(detail)}: ${JSON.stringify(reply)}`);
        assert.equal(typeof reply[4].response.reason, 'string');
      }
      assert.deepEqual(a.ls.state, state);
      assert.equal(a.ls.stateVersion, 1);

      // The others saw nothing; the next good event is version 2 for everyone.
      await sendAndWait(a, 'put', { path: '/ok', value: true });
      await b.waitForVersion(2);
      assert.deepEqual(b.ls.state, { ...state, ok: true });
      assert.equal(b.framesOf('in', 'state:patch').length, 2, b.transcript());
      assert.equal(b.framesOf('in', 'state:change').length, 1, b.transcript());
      for (const c of [a, b]) assert.equal(c.framesOf('out', 'lvs_refresh').length, 0, c.transcript());
      const truth = await serverTruth(t, bundle, topic);
      assert.deepEqual(truth, { state: { ...state, ok: true }, version: 2 });
    });

    test('socket connect params (nested, escaped) and join params are accepted', T, async (t) => {
      const topic = uniqueTopic('doc');
      const c = open(t, bundle, server, topic, {
        params: { room: 'r1', opts: { a: [1, 2] } },
        socketOptions: { params: { token: 'a b&c=d', user: { id: 1, tags: ['x', 'y'] } } },
      });
      assert.deepEqual(await c.waitFor('livestate-change'), { state: {}, version: 0 });
      assert.match(c.rec.url, /\/socket\/websocket\?token=a%20b%26c%3Dd&user%5Bid%5D=1&.*vsn=2\.0\.0$/);
      assert.deepEqual(c.framesOf('out', 'phx_join')[0][4], { room: 'r1', opts: { a: [1, 2] } });
    });

    test('unmatched topic: livestate-error with message "unmatched topic"', T, async (t) => {
      const c = open(t, bundle, server, 'nope:1');
      const err = await c.waitFor('livestate-error');
      assert.equal(err.message, 'unmatched topic');
      assert.equal(err.type, 'channel join error');
      assert.equal(c.events.get('livestate-change').length, 0);
    });

    if (bundle.major === '1.8') {
      for (const token of ['s3cr3t-token', 'ab>>?']) {
        test(`authToken socket option (${JSON.stringify(token)}): the connection works`, T, async (t) => {
          const topic = uniqueTopic('doc');
          const c = open(t, bundle, server, topic, { socketOptions: { authToken: token } });
          const first = await c.waitFor('livestate-change');
          assert.deepEqual(first, { state: {}, version: 0 });
          // phoenix offered the token as a sub-protocol and the server accepted "phoenix".
          const encoded = btoa(token).replace(/=/g, '');
          assert.deepEqual(c.rec.offeredProtocols, ['phoenix', `base64url.bearer.phx.${encoded}`]);
          assert.equal(c.rec.acceptedProtocol, 'phoenix');
          await sendAndWait(c, 'put', { path: '/k', value: token });
          assert.deepEqual(c.ls.state, { k: token });
        });
      }
    }
  });
}

/** Waits for the phx_reply to the push with the given ref. */
async function waitForReply(c, ref, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const reply = c.framesOf('in', 'phx_reply').find((f) => f[1] === ref);
    if (reply) return reply;
    if (Date.now() > deadline) throw new Error(`no phx_reply for ref ${ref}\n${c.transcript()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
