// examples/chat_view in cluster mode, in Chromium with the stock phoenix_live_view client
// the servers serve: three `chat_view --redis` nodes on a redis-server of this test's own
// (on a free port; the test fails, never skips, without redis-server: scripts/test
// installs it), every node with the same SECRET_KEY_BASE.
//
// One page per node on one room, and one more through a small TCP load balancer: a post
// on one node appears on every page. Then the node holding the room's lease (read from
// Redis: `livestate:{room:NAME}:lease` holds `node|epoch`, by a raw RESP GET) is killed
// with SIGKILL. What must hold, and is asserted: the pages on the surviving nodes keep
// working (a post after the kill appears on each, the history intact, a page opened on a
// survivor after the kill has all of it), another node takes the lease, and the page of
// the balancer reconnects through it to a live node and rejoins there with the tokens
// the dead node signed. The page served by the killed node itself loses its socket and
// its LiveSocket keeps retrying that node's port; it comes back only when a node listens
// there again: the test starts the node again on the same port, and the page reconnects
// by itself and catches up with what was posted while it was away.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { launchBrowser, startExample, waitForTexts } from './helpers.mjs';
import { CONNECTED, LivePages, SERVED, hasMarker, setMarker } from './views_helpers.mjs';
import { startRedis } from '../redis.mjs';

/** Resolves after `ms` (only to pace polling loops, never as an assertion). */
const pause = (ms) => new Promise((res) => setTimeout(res, ms));

/** How long a wait may take: generous, for a busy machine. */
const WAIT = 30_000;
const TEST = { timeout: 300_000 };
/** The nodes' lease time: a dead node's rooms move after this long. */
const LEASE_MS = 3000;
/** Every node signs and verifies the pages' tokens with this. */
const SECRET = 'chat_view cluster test: the same secret key base on every node';


/** `GET key` on the Redis at `port`, in RESP over a plain TCP socket: the string or null. */
function redisGet(port, key) {
  return new Promise((res, rej) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const done = (f, v) => {
      socket.destroy();
      f(v);
    };
    socket.once('error', rej);
    socket.once('connect', () => socket.write(`*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`));
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const head = buf.subarray(0, nl).toString();
      if (head[0] === '-') return done(rej, new Error(`redis: ${head}`));
      if (head[0] !== '$') return done(rej, new Error(`redis: unexpected answer ${JSON.stringify(head)}`));
      const len = Number(head.slice(1));
      if (len < 0) return done(res, null);
      if (buf.length < nl + 2 + len) return;
      done(res, buf.subarray(nl + 2, nl + 2 + len).toString());
    });
  });
}

/** The node (`n1`...) holding the lease of `key` once one does (polled, at most WAIT). */
async function leaseHolder(redis, key, { not } = {}) {
  const name = `livestate:{${key}}:lease`;
  let seen = null;
  for (const start = Date.now(); Date.now() - start < WAIT; await pause(100)) {
    seen = await redisGet(redis.port, name);
    const node = seen?.split('|')[0];
    if (node && node !== not) return node;
  }
  throw new Error(`no node other than ${not} held ${name} within ${WAIT} ms; it holds ${JSON.stringify(seen)}`);
}

/**
 * A TCP load balancer: each connection goes to the first node (from `prefer` on, in order)
 * that accepts it.
 */
async function startBalancer(nodes) {
  let first = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    client.pause();
    const tryNode = (k) => {
      if (k >= nodes.length) {
        client.destroy();
        return;
      }
      const node = nodes[(first + k) % nodes.length];
      const upstream = net.connect(node.port, '127.0.0.1');
      upstream.once('error', () => tryNode(k + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryNode(0);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address();
  return {
    name: 'balancer',
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    stderr: () => '',
    prefer(i) {
      first = i;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

let browser, redis;
const nodes = [];
/** Starts node `n{i+1}` (on `port` when given). */
const startNode = (i, port) =>
  startExample('chat_view', [
    ...(port ? ['--bind', `127.0.0.1:${port}`] : []),
    '--redis',
    redis.url,
    '--node-id',
    `n${i + 1}`,
    '--lease-ms',
    String(LEASE_MS),
  ]);

before(async () => {
  // the nodes inherit it: the secret every page of every node is signed with
  process.env.SECRET_KEY_BASE = SECRET;
  browser = await launchBrowser();
  redis = await startRedis();
  for (let i = 0; i < 3; i++) nodes.push(await startNode(i));
});
after(async () => {
  await browser?.close();
  for (const n of nodes) if (!n.killed) await n.stop();
  redis?.stop();
});

const messages = (page, want) => waitForTexts(page, '#messages li', want, WAIT);

/** Types `author` and `text` into the page's form and sends it. */
async function post(page, author, text) {
  await page.fill('input[name="author"]', author);
  await page.fill('input[name="text"]', text);
  await page.click('#send');
}

/** Records on the page whether the "reconnecting…" banner ever shows (for the report). */
const watchBanner = (page) =>
  page.evaluate(() => {
    window.__sawReconnecting = Boolean(document.querySelector('#reconnecting'));
    new MutationObserver(() => {
      if (document.querySelector('#reconnecting')) window.__sawReconnecting = true;
    }).observe(document.body, { childList: true, subtree: true });
  });

test('pages on three nodes share a room; when the lease holder dies, the survivors keep working', TEST, async (t) => {
  const lb = await startBalancer(nodes);
  t.after(() => lb.close());
  const pages = new LivePages(browser, [...nodes, lb], SERVED);
  // the sockets to the killed node fail until it is back
  pages.allow(/^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/live\/websocket\?.*' failed/);
  await pages.run(async () => {
    const room = `cluster-${process.pid}`;
    const key = `room:${room}`;
    const path = `/?room=${room}`;
    const on = [];
    for (let i = 0; i < 3; i++) on.push(await pages.open(nodes[i].url(path), { name: `page on n${i + 1}` }));
    const holder = await leaseHolder(redis, key);
    const dead = Number(holder.slice(1)) - 1;
    t.diagnostic(`the lease of ${key} is held by ${holder}`);
    // one more page, through the balancer, served by the holder and joined on it
    lb.prefer(dead);
    const balanced = await pages.open(lb.url(path), { name: `page through the balancer (on ${holder})` });
    await setMarker(balanced);
    const all = [...on, balanced];
    for (const p of all) await watchBanner(p);

    // a post on node A appears on B and C (and through the balancer)
    await post(on[0], 'ann', 'hello from n1');
    await Promise.all(all.map((p) => messages(p, ['ann: hello from n1'])));
    await post(on[1], 'bo', 'hi from n2');
    await post(on[2], 'cy', 'and n3');
    const history = ['ann: hello from n1', 'bo: hi from n2', 'cy: and n3'];
    await Promise.all(all.map((p) => messages(p, history)));

    // the holder dies
    const victim = nodes[dead];
    const gone = new Promise((res) => victim.child.once('exit', (code, signal) => res(signal)));
    victim.child.kill('SIGKILL');
    victim.killed = true;
    assert.equal(await gone, 'SIGKILL');
    const survivors = [0, 1, 2].filter((i) => i !== dead);
    const [s1, s2] = survivors.map((i) => on[i]);
    // its own page sees its socket go, and its LiveSocket keeps retrying that port
    await on[dead].waitForSelector(CONNECTED, { state: 'detached', timeout: WAIT });

    // the survivors keep working: a post on one reaches the other, after another node
    // took the room over from its last commit
    await post(s1, 'dan', 'after the kill');
    const after1 = [...history, 'dan: after the kill'];
    await messages(s1, after1);
    await messages(s2, after1);
    const next = await leaseHolder(redis, key, { not: holder });
    t.diagnostic(`after the kill the lease is held by ${next}`);
    assert.ok(survivors.map((i) => `n${i + 1}`).includes(next), `the lease went to ${next}`);
    await post(s2, 'eve', 'still here');
    const after2 = [...after1, 'eve: still here'];
    await Promise.all([s1, s2].map((p) => messages(p, after2)));
    // the balancer's page lost its socket with the node, reconnected through the balancer
    // to a live node and joined there with the dead node's tokens: no page load
    await messages(balanced, after2);
    await pages.connected(balanced);
    assert.ok(await hasMarker(balanced), 'the page behind the balancer was loaded again');
    assert.ok(pages.joins(balanced) >= 2, 'the page behind the balancer did not join again');
    await post(balanced, 'fay', 'via the balancer');
    const after3 = [...after2, 'fay: via the balancer'];
    await Promise.all([s1, s2, balanced].map((p) => messages(p, after3)));
    // a page opened on a survivor now: the whole history, from Redis
    const late = await pages.open(nodes[survivors[0]].url(path), { name: 'late page' });
    await messages(late, after3);
    for (const p of [s1, s2]) assert.equal(pages.joins(p), 1, 'a survivor page joined again');
    const banners = await Promise.all([s1, s2, balanced].map((p) => p.evaluate(() => window.__sawReconnecting)));
    t.diagnostic(`"reconnecting…" seen on the survivors' pages and the balancer's: ${JSON.stringify(banners)}`);
    t.diagnostic(`the killed node's page, before its node is back: connected ${await on[dead].locator(CONNECTED).count()}`);

    // the killed node's page comes back only with its node: the node starts again on the
    // same port, and the page reconnects by itself and catches up
    await setMarker(on[dead]);
    nodes[dead] = await startNode(dead, victim.port);
    await pages.connected(on[dead]);
    await messages(on[dead], after3);
    assert.ok(await hasMarker(on[dead]), 'the killed node’s page was loaded again instead of reconnecting');
    await post(on[dead], 'gus', 'back again');
    const after4 = [...after3, 'gus: back again'];
    await Promise.all([s1, s2, balanced, late, on[dead]].map((p) => messages(p, after4)));
  });
});

test('a page on a node paused past its lease shows "reconnecting…", then catches up by itself', TEST, async (t) => {
  const pages = new LivePages(browser, nodes, SERVED);
  await pages.run(async () => {
    const room = `paused-${process.pid}`;
    const key = `room:${room}`;
    const path = `/?room=${room}`;
    // the first page's node leads the room
    const first = await pages.open(nodes[2].url(path), { name: 'page on n3' });
    const holder = await leaseHolder(redis, key);
    assert.equal(holder, 'n3', 'the first page’s node did not take the room');
    const other = await pages.open(nodes[0].url(path), { name: 'page on n1' });
    await watchBanner(first);
    await post(first, 'ann', 'before the pause');
    await messages(other, ['ann: before the pause']);

    // n3 stops (SIGSTOP) past its lease: n1 takes the room over with a post
    nodes[2].child.kill('SIGSTOP');
    try {
      await post(other, 'bo', 'while n3 sleeps');
      await messages(other, ['ann: before the pause', 'bo: while n3 sleeps']);
      assert.equal(await leaseHolder(redis, key, { not: 'n3' }), 'n1');
    } finally {
      nodes[2].child.kill('SIGCONT');
    }
    // n3 wakes up, finds its lease gone and ends its subscribers' channels of the key: the
    // view on it has lost its key (the banner shows) and joins it again by itself
    await first.waitForFunction(() => window.__sawReconnecting === true, null, { timeout: WAIT });
    await messages(first, ['ann: before the pause', 'bo: while n3 sleeps']);
    await first.waitForSelector('#reconnecting', { state: 'detached', timeout: WAIT });
    assert.equal(pages.joins(first), 1, 'the page itself did not join again: only its view’s key did');
    await post(first, 'ann', 'awake');
    const all = ['ann: before the pause', 'bo: while n3 sleeps', 'ann: awake'];
    await Promise.all([first, other].map((p) => messages(p, all)));
    t.diagnostic('the view on the resumed node showed "reconnecting…" and caught up');
  });
});
