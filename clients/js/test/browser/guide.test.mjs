// docs/guide.md in Chromium: the todo list the guide builds from nothing, written from the
// guide's own code blocks into an empty folder and built there (as
// crates/livestate/tests/guide.rs does; they share target/outside, so the second build is
// quick). The page adds todos, shares them with another page, and shows why an event was
// refused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, T, launchBrowser, waitForEnabled, waitForText, waitForTexts, withPages } from './helpers.mjs';
import { spawnListening } from '../process.mjs';

const OUTSIDE_TARGET = join(REPO_ROOT, 'target', 'outside');

/** The files the guide's marked code blocks make: `<!-- file: PATH -->` then a fence. */
function guideFiles() {
  const text = readFileSync(join(REPO_ROOT, 'docs', 'guide.md'), 'utf8');
  const files = [];
  for (const rest of text.split('<!-- file: ').slice(1)) {
    const m = rest.match(/^(\S+) -->\n```[^\n]*\n([\s\S]*?)\n```\n/);
    assert.ok(m, `a code block after the marker: ${rest.slice(0, 60)}`);
    files.push([m[1], `${m[2]}\n`]);
  }
  return files;
}

/** Writes the guide's crate into a new folder, with `livestate` taken from this checkout. */
function writeGuideCrate() {
  const dir = mkdtempSync(join(tmpdir(), 'livestate-guide-browser-'));
  const livestate = realpathSync(join(REPO_ROOT, 'crates', 'livestate'));
  for (const [name, text] of guideFiles()) {
    const content =
      name === 'Cargo.toml' ? text.replaceAll('livestate = { version = "0.1"', `livestate = { path = ${JSON.stringify(livestate)}`) : text;
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  copyFileSync(join(REPO_ROOT, 'Cargo.lock'), join(dir, 'Cargo.lock'));
  return dir;
}

let browser, server, dir;
before(async () => {
  dir = writeGuideCrate();
  await promisify(execFile)('cargo', ['build', '--offline', '--quiet'], {
    cwd: dir,
    env: { ...process.env, CARGO_TARGET_DIR: OUTSIDE_TARGET },
    maxBuffer: 16 << 20,
  });
  const bin = join(OUTSIDE_TARGET, 'debug', 'todo-list');
  const started = await spawnListening(bin, ['--bind', '127.0.0.1:0'], {
    pattern: /^listening on 127\.0\.0\.1:(\d+)$/,
    label: 'todo-list (the guide)',
  });
  server = { name: 'todo-list', ...started, url: (path = '/') => `http://127.0.0.1:${started.port}${path}` };
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function submit(page, todo) {
  await waitForEnabled(page, 'form button');
  await page.fill('input[name="todo"]', todo);
  await page.click('form button');
}

test("the guide's page adds todos for every page, and shows why an event was refused", T, () =>
  withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/'));
    await page.locator('h1', { hasText: 'todo list' }).waitFor();
    await waitForEnabled(page, 'form button');
    const before = await page.locator('#todos li').allTextContents();

    // an empty todo is refused by the channel: the page shows the reason of the reply
    await submit(page, '   ');
    await waitForText(page, '#error', 'a todo needs some text');
    await waitForEnabled(page, 'form button');
    assert.deepEqual(await page.locator('#todos li').allTextContents(), before, 'the refusal changed nothing');

    // a good one clears the error and reaches another page too
    await submit(page, 'milk');
    await waitForTexts(page, '#todos li', [...before, 'milk']);
    assert.equal(await page.textContent('#error'), '');
    const other = await pages.open(server.url('/'), 'second page');
    await waitForTexts(other, '#todos li', [...before, 'milk']);
  }),
);
