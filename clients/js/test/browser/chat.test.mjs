// examples/chat in Chromium: two pages on one room see each other's messages within a
// second, and a page reloaded mid-conversation shows the whole history.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { T, launchBrowser, startExample, waitForEnabled, waitForText, waitForTexts, withPages } from './helpers.mjs';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('chat');
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0);
});

const room = () => `room-${randomBytes(4).toString('hex')}`;

/** Opens the room as `name` (each page has its own browser context, so its own storage). */
async function join(pages, room, name) {
  const page = await pages.open(server.url(`/?room=${room}`), name);
  await waitForEnabled(page, '#post button');
  await page.fill('input[name="name"]', name);
  return page;
}

async function say(page, text) {
  await waitForEnabled(page, '#post button');
  await page.fill('input[name="text"]', text);
  await page.click('#post button');
}

test("two pages on one chat room each see the other's message within a second", T, () =>
  withPages(browser, [server], async (pages) => {
    const r = room();
    const ann = await join(pages, r, 'ann');
    const bob = await join(pages, r, 'bob');

    await say(ann, 'hi bob');
    await waitForTexts(bob, '#messages li', ['ann: hi bob'], 1000);
    await say(bob, 'hi ann');
    await waitForTexts(ann, '#messages li', ['ann: hi bob', 'bob: hi ann'], 1000);
    await waitForTexts(bob, '#messages li', ['ann: hi bob', 'bob: hi ann'], 1000);
  }),
);

test('a page reloaded mid-conversation shows the whole history', T, () =>
  withPages(browser, [server], async (pages) => {
    const r = room();
    const ann = await join(pages, r, 'ann');
    const bob = await join(pages, r, 'bob');
    const said = [];
    for (let i = 1; i <= 3; i++) {
      await say(ann, `ann ${i}`);
      said.push(`ann: ann ${i}`);
      await waitForTexts(bob, '#messages li', said, 1000);
      await say(bob, `bob ${i}`);
      said.push(`bob: bob ${i}`);
      await waitForTexts(ann, '#messages li', said, 1000);
    }

    await bob.reload();
    await waitForTexts(bob, '#messages li', said);
    assert.equal(await bob.inputValue('input[name="name"]'), 'bob', 'the name was remembered');
    await say(bob, 'back');
    said.push('bob: back');
    await waitForTexts(ann, '#messages li', said, 1000);
    await waitForTexts(bob, '#messages li', said, 1000);

    // a late joiner too
    const cy = await join(pages, r, 'cy');
    await waitForTexts(cy, '#messages li', said);
  }),
);

test('a refused message shows why, and the form goes on', T, () =>
  withPages(browser, [server], async (pages) => {
    const page = await join(pages, room(), 'ann');
    await say(page, '   '); // `required` lets spaces through; the server trims and refuses
    await waitForText(page, '#error', 'text is required');
    await waitForEnabled(page, '#post button');
    await say(page, 'hello');
    await waitForTexts(page, '#messages li', ['ann: hello']);
  }),
);
