// The committed browser bundle (crates/livestate-server/assets/livestate.js).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JS_DIR, startServer, uniqueTopic, open } from './helpers.mjs';

const BUNDLE = join(JS_DIR, '..', '..', 'crates', 'livestate-server', 'assets', 'livestate.js');
const T = { timeout: 20_000 };

let server;
before(async () => {
  server = await startServer('livestate');
});
after(async () => {
  if (!server) return; // it did not start: `before` failed already
  const { code } = await server.stop();
  assert.equal(code, 0);
});

test('the committed browser bundle is up to date (node build.mjs --check)', T, async () => {
  const { code, stdout, stderr } = await new Promise((res) => {
    execFile(process.execPath, ['build.mjs', '--check'], { cwd: JS_DIR, timeout: 15_000 }, (err, stdout, stderr) =>
      res({ code: err ? (err.code ?? 'killed') : 0, stdout, stderr }),
    );
  });
  assert.equal(code, 0, `build.mjs --check failed:\n${stdout}${stderr}`);
  assert.match(stdout, /is up to date/);
});

test('the browser bundle exports phoenix and phx-live-state, and works against the server', T, async (t) => {
  const mod = await import(pathToFileURL(BUNDLE).href);
  for (const name of [
    'Socket',
    'Channel',
    'Presence',
    'LiveState',
    'connectElement',
    'liveState',
    'liveStateConfig',
    'liveStateProperty',
  ]) {
    assert.equal(typeof mod[name], 'function', `the bundle does not export ${name}`);
  }
  const text = await readFile(BUNDLE, 'utf8');
  assert.match(text, /^\/\* livestate\.js: phoenix 1\.8\.16 \+ phx-live-state 0\.12\.3,/);

  // The bundle's own LiveState (phoenix 1.8 inside) joins and edits a doc.
  const bundle = { name: 'browser bundle', LiveState: mod.LiveState };
  const c = open(t, bundle, server, uniqueTopic('doc'));
  assert.deepEqual(await c.waitFor('livestate-change'), { state: {}, version: 0 });
  c.send('put', { path: '/from', value: 'bundle' });
  await c.waitForVersion(1);
  assert.deepEqual(c.ls.state, { from: 'bundle' });
});

test('the server serves the committed bundle at /livestate.js', T, async () => {
  const res = await fetch(`http://127.0.0.1:${server.port}/livestate.js`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/javascript/);
  const served = Buffer.from(await res.arrayBuffer());
  assert.ok(
    served.equals(await readFile(BUNDLE)),
    'the server serves another livestate.js than the committed one (rebuild the server: it embeds the file)',
  );
});
