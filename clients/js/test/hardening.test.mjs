// Close handshakes against `livestate serve`: a client's close is answered with a close frame
// (phoenix.js 1.7 and 1.8, phx-live-state, a raw `ws` client), and the close the server starts
// for bad input reaches a client that keeps sending (1007, 1003, 1009), never a bare 1006.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, loadBundles, uniqueTopic, WAIT_MS } from './helpers.mjs';

const bundles = await loadBundles();
const T = { timeout: 120_000 };
const MAX_FRAME = 4096;
/** Valid frames sent right after the bad one, without waiting. */
const MORE = 500;
/** Times each bad-input case is repeated, to catch races. */
const ROUNDS = 10;
/** Hang guard for one close: the server drains for at most 2 s, `ws` waits 30 s for the TCP end. */
const CLOSE_MS = 45_000;

let server;
before(async () => {
  server = await startServer('livestate', ['--max-frame-size', String(MAX_FRAME)]);
});
after(async () => {
  if (!server) return; // it did not start: `before` failed already
  const { code } = await server.stop();
  assert.equal(code, 0, `livestate exited with ${code} on SIGTERM; stderr:\n${server.stderr()}`);
});

const wsUrl = () => `${server.url}/websocket?vsn=2.0.0`;
const heartbeat = (ref) => JSON.stringify([null, String(ref), 'phoenix', 'heartbeat', {}]);

/**
 * A `ws` WebSocket subclass (phoenix's transport) that records each close event the socket
 * emits: {code, reason, wasClean}, as phoenix's `onclose` gets it.
 */
function closeRecorder() {
  const closes = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('close', (e) => closes.push({ code: e.code, reason: e.reason, wasClean: e.wasClean }));
    }
  }
  return { closes, transport: RecordingWebSocket };
}

/** Rejects after `ms` with `what`: a hang guard, never a timing assertion. */
function guard(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the `ws` client once it is open (rejects on a refused upgrade or an error). */
function openRaw() {
  const ws = new WebSocket(wsUrl());
  const closed = new Promise((res) => ws.addEventListener('close', (e) => res({ code: e.code, reason: e.reason, wasClean: e.wasClean })));
  const opened = new Promise((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
    ws.once('unexpected-response', (_, r) => rej(new Error(`upgrade answered ${r.statusCode}`)));
  });
  return guard(opened, WAIT_MS, 'open').then(() => ({ ws, closed: guard(closed, CLOSE_MS, 'close event') }));
}

/** The next text frame the client receives, parsed. */
function nextFrame(ws, pred = () => true) {
  return guard(
    new Promise((res) => {
      const on = (data, isBinary) => {
        if (isBinary) return;
        const frame = JSON.parse(data.toString('utf8'));
        if (!pred(frame)) return;
        ws.off('message', on);
        res(frame);
      };
      ws.on('message', on);
    }),
    WAIT_MS,
    'frame',
  );
}

/** Opens a phoenix Socket over a recording transport, joins `topic`, and resolves once joined. */
async function joinedSocket(bundle, topic) {
  const rec = closeRecorder();
  const socket = new bundle.Socket(server.url, { transport: rec.transport, reconnectAfterMs: () => 60_000 });
  const socketCloses = [];
  socket.onClose((e) => socketCloses.push({ code: e.code, wasClean: e.wasClean }));
  socket.connect();
  const channel = socket.channel(topic, {});
  await guard(
    new Promise((res, rej) => {
      channel.join().receive('ok', res).receive('error', (e) => rej(new Error(`join refused: ${JSON.stringify(e)}`)));
    }),
    WAIT_MS,
    `join of ${topic}`,
  );
  return { socket, channel, rec, socketCloses };
}

/** Waits until `list` has an entry (polling, as phoenix's callbacks give no promise). */
async function firstOf(list, what) {
  await guard(
    (async () => {
      while (list.length === 0) await new Promise((r) => setTimeout(r, 10));
    })(),
    CLOSE_MS,
    what,
  );
  return list[0];
}

for (const bundle of bundles) {
  describe(`close handshake with ${bundle.name}`, () => {
    test('Socket.disconnect() with code 1000: onClose and the WebSocket see a clean 1000', T, async () => {
      const { socket, rec, socketCloses } = await joinedSocket(bundle, uniqueTopic('doc'));
      socket.disconnect(() => {}, 1000, 'bye');
      const seen = await firstOf(rec.closes, 'close event of the WebSocket');
      assert.deepEqual({ code: seen.code, wasClean: seen.wasClean }, { code: 1000, wasClean: true });
      assert.deepEqual(await firstOf(socketCloses, 'onClose callback'), { code: 1000, wasClean: true });
      assert.equal(rec.closes.length, 1, JSON.stringify(rec.closes));
    });

    test('Socket.disconnect() without a code: a clean close, never 1006', T, async () => {
      const { socket, rec, socketCloses } = await joinedSocket(bundle, uniqueTopic('doc'));
      socket.disconnect();
      // phoenix.js closes without a status code, and the server answers its close frame;
      // RFC 6455 §7.1.5: "no status" reads as 1005. 1006 would mean no close frame came back.
      const seen = await firstOf(rec.closes, 'close event of the WebSocket');
      assert.equal(seen.wasClean, true, JSON.stringify(seen));
      assert.ok([1000, 1005].includes(seen.code), `close code ${seen.code}, expected 1000 or 1005`);
      assert.deepEqual(await firstOf(socketCloses, 'onClose callback'), { code: seen.code, wasClean: true });
    });

    test('phx-live-state LiveState.disconnect(): the WebSocket closes cleanly, never 1006', T, async () => {
      const rec = closeRecorder();
      const ls = new bundle.LiveState({
        url: server.url,
        topic: uniqueTopic('doc'),
        socketOptions: { transport: rec.transport, reconnectAfterMs: () => 60_000 },
      });
      const changed = guard(new Promise((res) => ls.addEventListener('livestate-change', res, { once: true })), WAIT_MS, 'livestate-change');
      ls.connect();
      await changed;
      ls.disconnect();
      const seen = await firstOf(rec.closes, 'close event of the WebSocket');
      assert.equal(seen.wasClean, true, JSON.stringify(seen));
      assert.ok([1000, 1005].includes(seen.code), `close code ${seen.code}, expected 1000 or 1005`);
    });
  });
}

describe('close handshake with a raw ws client', () => {
  test('a client that closes with 1000 (or its own code) sees that code, cleanly', T, async () => {
    const topic = uniqueTopic('doc');
    const { ws, closed } = await openRaw();
    const reply = nextFrame(ws, (f) => f[3] === 'phx_reply');
    ws.send(JSON.stringify(['1', '1', topic, 'phx_join', {}]));
    assert.deepEqual((await reply).slice(0, 4), ['1', '1', topic, 'phx_reply']);
    ws.close(1000, 'bye');
    const seen1000 = await closed;
    assert.deepEqual({ code: seen1000.code, wasClean: seen1000.wasClean }, { code: 1000, wasClean: true });

    const own = await openRaw();
    own.ws.close(4321, 'mine');
    const seen = await own.closed;
    assert.equal(seen.wasClean, true, JSON.stringify(seen));
    assert.ok([1000, 4321].includes(seen.code), `close code ${seen.code}, expected 4321 (echoed) or 1000`);
  });
});

/** Sends `bad`, then MORE heartbeats at once, and resolves with the close event seen. */
async function closeAfter(bad) {
  const { ws, closed } = await openRaw();
  ws.on('error', () => {}); // sends after the server's close may fail; the close code is what counts
  ws.send(bad);
  for (let i = 0; i < MORE; i++) ws.send(heartbeat(i));
  return closed;
}

const BAD_INPUT = [
  { what: 'a text frame that is not a V2 array', code: 1007, frame: () => '{"topic":"phoenix","event":"heartbeat"}' },
  { what: 'a binary frame', code: 1003, frame: () => Buffer.from([0, 1, 2, 3, 4, 5]) },
  {
    what: `a text frame over --max-frame-size ${MAX_FRAME}`,
    code: 1009,
    frame: () => JSON.stringify([null, '0', 'phoenix', 'heartbeat', { pad: 'x'.repeat(MAX_FRAME) }]),
  },
];

describe(`bad input, then ${MORE} more frames without waiting`, () => {
  for (const { what, code, frame } of BAD_INPUT) {
    test(`${what}: the client sees close ${code}, ${ROUNDS} times out of ${ROUNDS}`, T, async () => {
      const codes = [];
      for (let round = 0; round < ROUNDS; round++) codes.push((await closeAfter(frame())).code);
      assert.deepEqual(codes, Array(ROUNDS).fill(code), `close codes seen: ${codes.join(', ')}`);
    });
  }

  test('after all that the server still answers a well-behaved client', T, async () => {
    const { ws, closed } = await openRaw();
    const reply = nextFrame(ws, (f) => f[3] === 'phx_reply');
    ws.send(heartbeat('hb'));
    assert.deepEqual(await reply, [null, 'hb', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
    ws.close(1000);
    assert.equal((await closed).code, 1000);
  });
});
