// Cluster mode with the stock client, phoenix 1.7 and 1.8: three `livestate serve --redis`
// nodes on a redis-server of this test's own, a client through a small TCP load balancer.
// When its node dies, phoenix.js reconnects by itself (the balancer sends it to a live node)
// and the client ends with the state everyone else has; when its node is paused past its
// lease and resumes, the node gives the key up and phoenix.js rejoins by itself. A message
// sent over HTTP to one node reaches every connection of a connection-scoped topic on
// every node (Phoenix PubSub's case).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, loadBundles, uniqueTopic, joined, sleep } from './helpers.mjs';
import { startRedis } from './redis.mjs';

const bundles = await loadBundles();
const T = { timeout: 60_000 };
const LEASE_MS = 1000;

/**
 * A TCP load balancer: each connection goes to the first node (from `prefer` on, in order)
 * that accepts it. Resolves to {url, prefer(i), close()}.
 */
async function startBalancer(nodes) {
  let first = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
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
    port,
    url: `ws://127.0.0.1:${port}/socket`,
    prefer(i) {
      first = i;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

let redis;
const nodes = [];
before(async () => {
  redis = await startRedis();
  for (let i = 1; i <= 3; i++) {
    nodes.push(
      await startServer('livestate', ['--no-demo', '--redis', redis.url, '--node-id', `n${i}`, '--lease-ms', String(LEASE_MS)]),
    );
  }
});
after(async () => {
  for (const n of nodes) await n.stop();
  redis?.stop();
});

/** Sends `put /n = value` from `client` and waits until `watcher` has it. */
async function putAndSee(client, watcher, value) {
  const since = watcher.mark();
  client.send('put', { path: '/n', value });
  return watcher.waitFor('livestate-change', (d) => d.state.n === value, { since, timeout: 15_000, what: `n = ${value}` });
}

/** POSTs `body` as JSON to `path` on `node`; resolves to {status, json}. */
async function post(node, path, body) {
  const r = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

describe('messages across the cluster', () => {
  // testservers (they route `news:*`: one state per connection, public write) on the same
  // Redis under their own prefix
  const news = [];
  before(async () => {
    for (let i = 1; i <= 3; i++) {
      news.push(
        await startServer('testserver', ['--no-demo', '--redis', redis.url, '--redis-prefix', 'msgs', '--node-id', `m${i}`]),
      );
    }
  });
  after(async () => {
    for (const n of news) await n.stop();
  });

  for (const bundle of bundles) {
    test(`${bundle.name}: a message posted to one node reaches every connection of the topic on every node`, T, async (t) => {
      const topic = uniqueTopic('news');
      const clients = [];
      for (const node of [news[0], news[1], news[1], news[2]]) clients.push(await joined(t, bundle, node, topic));
      const other = await joined(t, bundle, news[2], uniqueTopic('news'));
      const marks = clients.map((c) => c.mark());
      const r = await post(news[1], `/api/state/${topic}/message`, { path: '/headline', value: 'rain' });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json, { reached: 2 }, 'the two connections on the node posted to');
      await Promise.all(
        clients.map((c, i) =>
          c.waitFor('livestate-change', (d) => d.state.headline === 'rain', { since: marks[i], what: 'the headline' }),
        ),
      );
      for (const c of clients) {
        const last = c.events.get('livestate-change').at(-1);
        assert.deepEqual(last, { state: { headline: 'rain' }, version: 1 });
      }
      // a message every connection refuses changes nothing anywhere
      const refused = await post(news[0], `/api/state/${topic}/message`, { nope: 1 });
      assert.deepEqual(refused.json, { reached: 0 });
      const bad = await post(news[0], `/api/state/${topic}/message`, '{');
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'bad_request');
      await sleep(300);
      for (const c of clients) assert.equal(c.events.get('livestate-change').at(-1).version, 1, c.transcript());
      // another topic's connection got nothing
      assert.equal(other.events.get('livestate-change').length, 1, other.transcript());
    });
  }
});

for (const bundle of bundles) {
  describe(`cluster with ${bundle.name}`, () => {
    test('a client whose node dies reconnects through the balancer to a live node and ends with everyone else’s state', T, async (t) => {
      // a fresh node 0 for every bundle (the first test of the other bundle killed it)
      if (nodes[0].dead) {
        nodes[0] = await startServer('livestate', ['--no-demo', '--redis', redis.url, '--node-id', 'n1', '--lease-ms', String(LEASE_MS)]);
      }
      const lb = await startBalancer(nodes);
      t.after(() => lb.close());
      const topic = uniqueTopic('doc');
      // through the balancer to node 0, which becomes the key's authority
      const a = await joined(t, bundle, lb, topic);
      const b = await joined(t, bundle, nodes[1], topic);
      await putAndSee(a, b, 1);
      await putAndSee(b, a, 2);

      nodes[0].child.kill('SIGKILL');
      nodes[0].dead = true;
      await nodes[0].stop();
      // b's change waits for the dead authority's lease to run out, then another node
      // takes the key over from the last commit
      const seen = await putAndSee(b, a, 3);
      assert.equal(seen.state.n, 3);
      await putAndSee(a, b, 4);
      await a.waitFor('livestate-change', (d) => d.state.n === 4, { what: 'n = 4 on a' });
      // a reconnected (to node 1 or 2) and rejoined; both hold one state at one version
      assert.ok(a.rec.closes.length >= 1, 'a lost its socket');
      assert.ok(a.framesOf('out', 'phx_join').length >= 2, a.transcript());
      const va = a.events.get('livestate-change').at(-1);
      const vb = b.events.get('livestate-change').at(-1);
      assert.deepEqual(va, vb);
      assert.deepEqual(va.state, { n: 4 });
    });

    test('a client on a node paused past its lease is told to rejoin when the node resumes, and converges', T, async (t) => {
      if (nodes[0].dead) {
        nodes[0] = await startServer('livestate', ['--no-demo', '--redis', redis.url, '--node-id', 'n1', '--lease-ms', String(LEASE_MS)]);
      }
      const topic = uniqueTopic('doc');
      const a = await joined(t, bundle, nodes[2], topic); // node 2 leads the key
      const b = await joined(t, bundle, nodes[1], topic);
      await putAndSee(a, b, 1);

      nodes[2].child.kill('SIGSTOP');
      try {
        await sleep(LEASE_MS * 2);
        // node 1 takes the key over with b's change
        const since = b.mark();
        b.send('put', { path: '/n', value: 2 });
        await b.waitFor('livestate-change', (d) => d.state.n === 2, { since, timeout: 15_000, what: 'n = 2 on b' });
      } finally {
        nodes[2].child.kill('SIGCONT');
      }
      // the resumed node finds its lease gone: a gets phx_error, phoenix.js rejoins, and
      // a follows the new authority
      await a.waitFor('livestate-change', (d) => d.state.n === 2, { timeout: 15_000, what: 'n = 2 on a' });
      await putAndSee(a, b, 3);
      await a.waitFor('livestate-change', (d) => d.state.n === 3, { what: 'n = 3 on a' });
      assert.ok(a.framesOf('in', 'phx_error').length >= 1, a.transcript());
      assert.deepEqual(a.events.get('livestate-change').at(-1), b.events.get('livestate-change').at(-1));
    });
  });
}
