// examples/todo in Chromium: LiveState's testbed todo list, on the plain page and on the
// React page (the useLiveState hook), and the committed React bundle.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JS_DIR, REPO_ROOT, T, launchBrowser, startExample, waitForEnabled, waitForTexts, withPages } from './helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('todo'); // adding a todo takes 500 ms, as in the testbed
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0);
});

/** Adds a todo through the page's form: the button is disabled until the item is there. */
async function addTodo(page, todo, before) {
  await waitForEnabled(page, 'form button'); // joined
  await page.fill('input[name="todo"]', todo);
  await page.click('form button');
  assert.equal(await page.isDisabled('form button'), true, 'the button is disabled while add_todo is in flight');
  await waitForTexts(page, 'ul li', [...before, todo]);
  await waitForEnabled(page, 'form button');
  assert.equal(await page.inputValue('input[name="todo"]'), '', 'the input was cleared');
}

test('todo list: the button is disabled while the event is in flight, then the item appears', T, () =>
  withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/'));
    await page.locator('h1', { hasText: 'todo list' }).waitFor();
    const before = await page.locator('ul li').allTextContents();
    await addTodo(page, 'Do a thing', before);

    // the list is the topic's: another page sees it
    const other = await pages.open(server.url('/'), 'second page');
    await waitForTexts(other, 'ul li', [...before, 'Do a thing']);
  }),
);

test('todo list on the React page (useLiveState)', T, () =>
  withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/react'));
    await page.locator('h1', { hasText: 'todo list (React)' }).waitFor();
    await waitForEnabled(page, 'form button');
    const before = await page.locator('ul li').allTextContents();
    await addTodo(page, 'Do a thing in React', before);
    await addTodo(page, 'And another', [...before, 'Do a thing in React']);

    // the plain page shows the same list
    const plain = await pages.open(server.url('/'), 'plain page');
    await waitForTexts(plain, 'ul li', [...before, 'Do a thing in React', 'And another']);
  }),
);

test('the committed React bundle is up to date (node build.mjs --check --react) and served', T, async () => {
  const { code, stdout, stderr } = await new Promise((res) => {
    execFile(process.execPath, ['build.mjs', '--check', '--react'], { cwd: JS_DIR, timeout: 30_000 }, (err, stdout, stderr) =>
      res({ code: err ? (err.code ?? 'killed') : 0, stdout, stderr }),
    );
  });
  assert.equal(code, 0, `build.mjs --check --react failed:\n${stdout}${stderr}`);
  assert.match(stdout, /react-todo\.js is up to date/);

  const committed = await readFile(join(REPO_ROOT, 'examples', 'todo', 'assets', 'react-todo.js'), 'utf8');
  const res = await fetch(server.url('/react.js'));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), committed);
});
