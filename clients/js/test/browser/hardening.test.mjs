// Cross-site hardening in Chromium: a page's WebSocket close handshake, and what a page from
// another origin can do to `livestate serve` with `[api] allow_origins` set (the HTTP state
// API and the WebSocket refuse it), checked from the browser and from Node.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, uniqueTopic } from '../helpers.mjs';
import { T, WAIT_MS, launchBrowser, withPages } from './helpers.mjs';

const PAGE = '<!doctype html><meta charset="utf-8"><title>elsewhere</title><p>a page on another origin</p>';

/** A Node HTTP server on 127.0.0.1:0 serving PAGE at every path: a page of its own origin. */
async function pageServer() {
  const http = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(PAGE);
  });
  await new Promise((res, rej) => http.once('error', rej).listen(0, '127.0.0.1', res));
  const origin = `http://127.0.0.1:${http.address().port}`;
  return { origin, url: `${origin}/`, close: () => new Promise((res) => http.close(res)) };
}

let browser, server, plain, allowed, foreign, dir;
before(async () => {
  browser = await launchBrowser();
  allowed = await pageServer();
  foreign = await pageServer();
  dir = await mkdtemp(join(tmpdir(), 'livestate-hardening-'));
  const config = join(dir, 'livestate.toml');
  // The public may do everything, so only the origin and content-type checks stand between a
  // foreign page and the keys.
  await writeFile(
    config,
    `[api]\nallow_origins = [${JSON.stringify(allowed.origin)}]\n\n` +
      `[[docs]]\npattern = "doc:*"\nacl = { group = ["all"], public = ["all"] }\n`,
  );
  server = await startServer('livestate', ['--config', config]);
  server.name = 'livestate (allow_origins)';
  plain = await startServer('livestate');
  plain.name = 'livestate (no config)';
});
after(async () => {
  await browser?.close();
  for (const s of [server, plain]) {
    if (s) assert.equal((await s.stop()).code, 0, `${s.name} did not exit cleanly; stderr:\n${s.stderr()}`);
  }
  await allowed?.close();
  await foreign?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const base = (s) => `http://127.0.0.1:${s.port}`;
const socketUrl = (s) => `ws://127.0.0.1:${s.port}/socket/websocket?vsn=2.0.0`;

/** An HTTP request from Node (which sends no Origin unless told): {status, body}. */
function api(method, path, { headers = {}, body } = {}) {
  return new Promise((res, rej) => {
    const req = request(`${base(server)}${path}`, { method, headers, timeout: 10 * WAIT_MS }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (d) => (text += d));
      r.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        res({ status: r.statusCode, body: json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on('error', rej);
    req.end(body);
  });
}

const JSON_TYPE = { 'Content-Type': 'application/json' };

/** Gives `topic` the state {v: value} from Node, and returns what GET answers then. */
async function seed(topic, value) {
  const put = await api('PUT', `/api/state/${topic}?path=/v`, { headers: JSON_TYPE, body: JSON.stringify(value) });
  assert.equal(put.status, 200, JSON.stringify(put));
  const got = await api('GET', `/api/state/${topic}`);
  assert.equal(got.status, 200, JSON.stringify(got));
  assert.deepEqual(got.body.state, { v: value });
  return got.body;
}

/** GET from Node (no Origin): {state, version}. */
async function getState(topic) {
  const got = await api('GET', `/api/state/${topic}`);
  assert.equal(got.status, 200, JSON.stringify(got));
  return got.body;
}

/**
 * Runs `fetch(url, init)` for each [url, init] in the page and resolves with what each gave:
 * {ok, status, type, body} or {error} (a CORS refusal is a TypeError).
 */
function fetchAll(page, calls) {
  return page.evaluate(async (calls) => {
    const results = [];
    for (const [url, init] of calls) {
      try {
        const r = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
        results.push({ ok: r.ok, status: r.status, type: r.type, body: r.type === 'opaque' ? null : await r.text() });
      } catch (e) {
        results.push({ error: `${e.name}: ${e.message}` });
      }
    }
    return results;
  }, calls);
}

/**
 * Opens a WebSocket to `url` in the page; once open, closes it with `code` (none when
 * undefined). Resolves with {opened, code, wasClean} from the close event.
 */
function wsInPage(page, url, code) {
  return page.evaluate(
    ([url, code]) =>
      new Promise((res, rej) => {
        const guard = setTimeout(() => rej(new Error(`no close event from ${url} within 30 s`)), 30_000);
        const ws = new WebSocket(url);
        let opened = false;
        ws.onopen = () => {
          opened = true;
          if (code === null) ws.close();
          else ws.close(code, 'bye');
        };
        ws.onclose = (e) => {
          clearTimeout(guard);
          res({ opened, code: e.code, wasClean: e.wasClean });
        };
      }),
    [url, code ?? null],
  );
}

/** Resolves with 'open' or the status that refused the upgrade, for a Node `ws` client. */
function upgradeFromNode(origin) {
  return new Promise((res, rej) => {
    const ws = new WebSocket(socketUrl(server), origin === undefined ? {} : { origin });
    const timer = setTimeout(() => rej(new Error('the upgrade got no answer')), 10 * WAIT_MS);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.close(1000);
      res('open');
    });
    ws.once('unexpected-response', (_, r) => {
      clearTimeout(timer);
      r.resume();
      ws.terminate();
      res(r.statusCode);
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
  });
}

test('a page served by livestate closes its WebSocket with 1000 and sees a clean 1000', T, () =>
  withPages(browser, [plain], async (pages) => {
    const page = await pages.open(`${base(plain)}/health`, 'livestate page');
    assert.deepEqual(await wsInPage(page, socketUrl(plain), 1000), { opened: true, code: 1000, wasClean: true });
    // ws.close() without a code: the server's answer carries no status either (1005), but it
    // is a close frame: never 1006
    const bare = await wsInPage(page, socketUrl(plain));
    assert.equal(bare.opened, true);
    assert.equal(bare.wasClean, true, JSON.stringify(bare));
    assert.ok([1000, 1005].includes(bare.code), `close code ${bare.code}, expected 1005 (or 1000)`);
  }),
);

test('a page from a foreign origin cannot reset, message or put a key', T, () =>
  withPages(browser, [server], async (pages) => {
    const topic = uniqueTopic('doc');
    const before = await seed(topic, 'kept');
    const page = await pages.open(foreign.url, 'foreign page');
    // what livestate answered each request Chromium sent (a refused preflight sends none)
    const answers = [];
    page.on('response', (r) => {
      if (r.url().includes('/api/') && r.request().method() !== 'OPTIONS') answers.push(`${r.request().method()} ${r.status()}`);
    });
    const key = `${base(server)}/api/state/${topic}`;
    const text = { 'Content-Type': 'text/plain' };
    const calls = [
      [`${key}/reset`, { method: 'POST', headers: text, body: '{}' }],
      [`${key}/reset`, { method: 'POST', mode: 'no-cors', headers: text, body: '{}' }],
      [`${key}/message`, { method: 'POST', headers: text, body: '{"v":"message"}' }],
      [`${key}/message`, { method: 'POST', mode: 'no-cors', headers: text, body: '{"v":"message"}' }],
      [`${key}?path=/v`, { method: 'PUT', headers: text, body: '"changed by a foreign page"' }],
      [`${key}?path=/v`, { method: 'PUT', headers: JSON_TYPE, body: '"changed by a foreign page"' }],
      [`${key}/reset`, { method: 'POST', headers: JSON_TYPE, body: '{}' }],
      [`${key}?path=/v`, { method: 'DELETE' }],
    ];
    const results = await fetchAll(page, calls);
    for (const [i, r] of results.entries()) {
      assert.ok(!r.ok, `${calls[i][1].method} ${calls[i][0]} from ${foreign.origin} succeeded: ${JSON.stringify(r)}`);
    }
    // the two no-cors posts reached livestate, which refused them (Chromium reports no
    // response for a CORS request whose answer it withholds from the page)
    const deadline = Date.now() + 10 * WAIT_MS; // a hang guard: the events may trail the fetches
    while (answers.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(answers.length >= 2, `livestate answered the page only: ${answers.join(', ')}`);
    for (const a of answers) assert.match(a, /^[A-Z]+ 403$/, `livestate answered: ${answers.join(', ')}`);
    const after = await getState(topic);
    assert.deepEqual(after, before, `the key changed; livestate answered the page: ${answers.join(', ')}`);
  }),
);

test('a page from an allowed origin can put and reset over CORS, but not post text/plain', T, () =>
  withPages(browser, [server], async (pages) => {
    const topic = uniqueTopic('doc');
    await seed(topic, 'kept');
    const page = await pages.open(allowed.url, 'allowed page');
    const key = `${base(server)}/api/state/${topic}`;
    const [put, plainText, reset] = await fetchAll(page, [
      [`${key}?path=/v`, { method: 'PUT', headers: JSON_TYPE, body: '"changed"' }],
      [`${key}/reset`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' }],
      [`${key}/reset`, { method: 'POST', headers: JSON_TYPE, body: '{}' }],
    ]);
    assert.deepEqual({ ok: put.ok, status: put.status }, { ok: true, status: 200 }, JSON.stringify(put));
    assert.equal(plainText.status, 415, JSON.stringify(plainText));
    assert.equal(JSON.parse(plainText.body).error.code, 'unsupported_media_type');
    assert.deepEqual({ ok: reset.ok, status: reset.status }, { ok: true, status: 200 }, JSON.stringify(reset));
    assert.deepEqual((await getState(topic)).state, {});
  }),
);

test('from Node: a foreign Origin gets 403 origin_not_allowed, text/plain gets 415', T, async () => {
  const topic = uniqueTopic('doc');
  const before = await seed(topic, 'kept');
  const evil = { Origin: 'http://evil.example' };

  for (const [method, path, body] of [
    ['POST', '/reset', '{}'],
    ['POST', '/message', '{"v":"message"}'],
    ['PUT', '?path=/v', '"changed"'],
    ['GET', '', undefined],
  ]) {
    const r = await api(method, `/api/state/${topic}${path}`, { headers: { ...evil, ...JSON_TYPE }, body });
    assert.equal(r.status, 403, `${method} ${path} with Origin ${evil.Origin}: ${JSON.stringify(r)}`);
    assert.equal(r.body?.error?.code, 'origin_not_allowed', JSON.stringify(r.body));
    assert.equal(typeof r.body.error.message, 'string');
  }
  // the page's own origin is as foreign as any other
  const fromPage = await api('POST', `/api/state/${topic}/reset`, { headers: { Origin: foreign.origin, ...JSON_TYPE }, body: '{}' });
  assert.equal(fromPage.status, 403, JSON.stringify(fromPage));

  for (const headers of [{ 'Content-Type': 'text/plain' }, {}, { 'Content-Type': 'application/x-www-form-urlencoded' }]) {
    const r = await api('POST', `/api/state/${topic}/reset`, { headers, body: '{}' });
    assert.equal(r.status, 415, `reset with ${JSON.stringify(headers)}: ${JSON.stringify(r)}`);
    assert.equal(r.body?.error?.code, 'unsupported_media_type', JSON.stringify(r.body));
  }
  assert.deepEqual(await getState(topic), before, 'a refused request changed the key');

  // the same request with a listed Origin, or none, goes through
  const listed = await api('PUT', `/api/state/${topic}?path=/v`, { headers: { Origin: allowed.origin, ...JSON_TYPE }, body: '"listed"' });
  assert.equal(listed.status, 200, JSON.stringify(listed));
  const none = await api('POST', `/api/state/${topic}/reset`, { headers: JSON_TYPE, body: '{}' });
  assert.equal(none.status, 200, JSON.stringify(none));
  assert.deepEqual((await getState(topic)).state, {});
});

test('WebSocket upgrades: a foreign Origin is refused (403), a listed one or none is let in', T, () =>
  withPages(browser, [server], async (pages) => {
    assert.equal(await upgradeFromNode('http://evil.example'), 403);
    assert.equal(await upgradeFromNode(foreign.origin), 403);
    assert.equal(await upgradeFromNode(allowed.origin), 'open');
    assert.equal(await upgradeFromNode(undefined), 'open');

    const refused = await wsInPage(await pages.open(foreign.url, 'foreign page'), socketUrl(server), 1000);
    assert.equal(refused.opened, false, `a WebSocket from ${foreign.origin} was let in: ${JSON.stringify(refused)}`);
    const let_in = await wsInPage(await pages.open(allowed.url, 'allowed page'), socketUrl(server), 1000);
    assert.deepEqual(let_in, { opened: true, code: 1000, wasClean: true });
  }),
);
