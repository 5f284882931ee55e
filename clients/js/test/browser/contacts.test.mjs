// examples/contacts in Chromium: validation errors come from the state; a valid contact
// appears in the list and is still there after the server restarted (it is in SQLite).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { T, launchBrowser, startExample, waitForEnabled, waitForText, waitForTexts, withPages } from './helpers.mjs';

let browser, dir, db;
const servers = [];
before(async () => {
  browser = await launchBrowser();
  dir = await mkdtemp(join(tmpdir(), 'livestate-contacts-'));
  db = join(dir, 'contacts.sqlite3');
});
after(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start() {
  const server = await startExample('contacts', ['--db', db]);
  servers.push(server);
  return server;
}

test('the contact form shows validation errors from the state, stores valid contacts in SQLite', T, async () => {
  let server = await start();
  await withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/'));
    await waitForEnabled(page, '#add-contact button');
    await waitForTexts(page, '#contacts li', []);

    await page.fill('input[name="name"]', 'Ann');
    await page.fill('input[name="email"]', 'ann.example.com');
    await page.click('#add-contact button');
    await waitForText(page, '#email-error', 'must contain @');
    await waitForText(page, '#name-error', '');
    await waitForTexts(page, '#contacts li', []);
    assert.equal(await page.inputValue('input[name="email"]'), 'ann.example.com', 'the form keeps what was typed');

    await page.fill('input[name="email"]', 'ann@example.com');
    await page.click('#add-contact button');
    await waitForTexts(page, '#contacts li', ['Ann <ann@example.com>']);
    await waitForText(page, '#email-error', '');
    assert.equal(await page.inputValue('input[name="name"]'), '', 'the form was reset');
  });

  const { code } = await server.stop();
  assert.equal(code, 0);
  server = await start();
  await withPages(browser, [server], async (pages) => {
    const page = await pages.open(server.url('/'), 'after the restart');
    await waitForTexts(page, '#contacts li', ['Ann <ann@example.com>']);
  });
});
