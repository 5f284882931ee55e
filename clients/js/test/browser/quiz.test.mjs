// examples/quiz in Chromium, with the stock phoenix_live_view client the server serves
// (/live/live.js): the moderator (/moderator?key=..., then the moderator cookie) pauses and
// every participant's page shows the banner, then resumes and moves on; a reset (the
// moderator's button, and the HTTP API's) reaches every participant's page, which says
// "the moderator reset the quiz"; the channel refuses a non-moderator's controls with its
// reason; bad input shown on the page; a tampered session token reloads the page, which
// works again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startExample } from './helpers.mjs';
import { LivePages, SERVED, TEST, WAIT, hasMarker, setMarker, text, waitGone } from './views_helpers.mjs';

const KEY = 'browser-test-moderator-key';

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startExample('quiz', ['--moderator-key', KEY]);
});
after(async () => {
  await browser?.close();
  if (server) assert.equal((await server.stop()).code, 0, `the server did not exit cleanly; stderr:\n${server.stderr()}`);
});

const scenario = (name, body) => test(name, TEST, () => new LivePages(browser, [server], SERVED).run(body));

/** A quiz of its own for each scenario (the key quiz:NAME). */
let quizzes = 0;
const newQuiz = () => `browser-${++quizzes}`;

const Q1 = 'Question 1 of 3: Which protocol does phx-live-state speak?';
const Q2 = 'Question 2 of 3: What does a state:patch carry?';

/** The moderator's page of `quiz`, signed in with the key (each in a browser of its own). */
async function openModerator(pages, quiz) {
  const page = await pages.open(server.url(`/moderator?quiz=${quiz}&key=${KEY}`), { name: 'moderator' });
  assert.equal(await page.locator('#not-moderator').count(), 0, 'the key did not sign the moderator in');
  return page;
}

/** `n` participants' pages of `quiz`, each in a browser of its own. */
async function openParticipants(pages, quiz, n) {
  const opened = [];
  for (let i = 1; i <= n; i += 1) {
    const page = await pages.open(server.url(`/?quiz=${quiz}`), { name: `participant ${i}` });
    await text(page, '#question', Q1);
    opened.push(page);
  }
  return opened;
}

/** Pushes `event` with `value` from the page's main view, as a binding would. */
function push(page, event, value) {
  return page.evaluate(
    ([e, v]) => {
      const commands = JSON.stringify([['push', v === undefined ? { event: e } : { event: e, value: v }]]);
      window.liveSocket.execJS(document.querySelector('[data-phx-main] main'), commands, 'click');
    },
    [event, value],
  );
}

scenario('the moderator pauses: every participant page shows the banner at once; then resumes and moves on', async (pages) => {
  const quiz = newQuiz();
  const moderator = await openModerator(pages, quiz);
  const participants = await openParticipants(pages, quiz, 3);
  for (const page of participants) assert.equal(await page.locator('#paused').count(), 0);

  await moderator.click('#pause');
  await text(moderator, '#flash-info', 'the quiz is paused');
  for (const page of participants) await text(page, '#paused', 'The quiz is paused');
  await text(moderator, '#paused', 'The quiz is paused');
  // answering meanwhile: refused with the channel's reason
  await participants[0].click('#choice-0');
  await text(participants[0], '#flash-error', 'the quiz is paused');

  await moderator.click('#resume');
  for (const page of participants) await waitGone(page, '#paused');
  await waitGone(moderator, '#paused');
  await participants[1].click('#choice-1');
  await text(participants[1], '#answer', 'Your answer: B');
  await text(moderator, '#count-1', 'B: gRPC — 1');

  await moderator.click('#next');
  for (const page of participants) {
    await text(page, '#question', Q2);
    await text(page, '#answer', 'Pick an answer.');
  }

  // the moderator cookie is the credential from now on: the page without ?key= pauses too
  const again = await pages.open(server.url(`/moderator?quiz=${quiz}`), { name: 'moderator, no key', context: moderator.context() });
  assert.equal(await again.locator('#not-moderator').count(), 0, 'the cookie did not sign the moderator in');
  await again.click('#pause');
  for (const page of participants) await text(page, '#paused', 'The quiz is paused');
  await again.click('#resume');
  for (const page of participants) await waitGone(page, '#paused');
  for (const page of [moderator, ...participants]) assert.equal(pages.joins(page), 1, 'a page joined again');
});

scenario('a reset of the quiz reaches every participant page: "the moderator reset the quiz"', async (pages) => {
  const quiz = newQuiz();
  const moderator = await openModerator(pages, quiz);
  const participants = await openParticipants(pages, quiz, 2);
  await participants[0].click('#choice-0');
  await text(participants[0], '#answer', 'Your answer: A');
  await moderator.click('#next');
  for (const page of participants) await text(page, '#question', Q2);
  for (const page of participants) assert.equal(await page.locator('#reset').count(), 0);

  // the moderator's reset button
  await moderator.click('#reset');
  await text(moderator, '#flash-info', 'the quiz starts again');
  for (const page of participants) {
    await text(page, '#reset', 'the moderator reset the quiz');
    await text(page, '#question', Q1);
    await text(page, '#answer', 'Pick an answer.');
  }
  await text(moderator, '#question', Q1);

  // moving on clears the notice
  await moderator.click('#next');
  for (const page of participants) {
    await text(page, '#question', Q2);
    await waitGone(page, '#reset');
  }

  // the HTTP API's reset (its token is the moderator key): the same reset
  const response = await fetch(server.url(`/api/state/quiz:${quiz}/reset`), {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(response.status, 200, await response.text());
  for (const page of participants) {
    await text(page, '#reset', 'the moderator reset the quiz');
    await text(page, '#question', Q1);
  }
  await text(moderator, '#question', Q1);
});

scenario('the channel refuses a non-moderator’s controls with its reason', async (pages) => {
  const quiz = newQuiz();
  const [participant] = await openParticipants(pages, quiz, 1);
  // the moderator's page with a wrong key: not signed in, and the channel says no
  const stranger = await pages.open(server.url(`/moderator?quiz=${quiz}&key=wrong`), { name: 'stranger' });
  await text(stranger, '#not-moderator', 'You are not signed in as the moderator (open this page with ?key=THE-KEY): the quiz refuses your controls.');
  await stranger.click('#pause');
  await text(stranger, '#flash-error', 'only the moderator may pause the quiz');
  await stranger.click('#next');
  await text(stranger, '#flash-error', 'only the moderator may move to the next question');
  await stranger.click('#reset');
  await text(stranger, '#flash-error', 'only the moderator may reset the quiz');
  // a participant pushing the moderator's events: its view knows no such event
  await push(participant, 'pause');
  await text(participant, '#flash-error', 'unknown event "pause"');
  // the quiz went on as it was: the participant answers the first question
  await participant.click('#choice-2');
  await text(participant, '#answer', 'Your answer: C');
  await text(participant, '#question', Q1);
  assert.equal(await participant.locator('#paused').count(), 0);
});

scenario('bad input is shown on the page', async (pages) => {
  const quiz = newQuiz();
  const [page] = await openParticipants(pages, quiz, 1);
  await push(page, 'bogus');
  await text(page, '#flash-error', 'unknown event "bogus"');
  await page.click('#flash-error'); // lv:clear-flash
  await waitGone(page, '#flash-error');
  await push(page, 'answer', { choice: 'x' });
  await text(page, '#flash-error', '"x" is not a choice');
  await push(page, 'answer', { choice: '9' });
  await text(page, '#flash-error', 'question 1 has no choice 9');
  await push(page, 'answer');
  await text(page, '#flash-error', 'bad payload for answer: missing field `choice`');
  // the view stayed, and answers
  await page.click('#choice-1');
  await text(page, '#answer', 'Your answer: B');
  await page.click('#choice-2');
  await text(page, '#flash-error', 'you answered question 1 already');
  await text(page, '#answer', 'Your answer: B');
  assert.equal(pages.joins(page), 1, 'joins: the view stayed');
});

scenario('a tampered session token makes the client load the page afresh, which works again', async (pages) => {
  const quiz = newQuiz();
  const moderator = await openModerator(pages, quiz);
  const [page] = await openParticipants(pages, quiz, 1);
  await setMarker(page);
  const tampered = await page.evaluate(() => {
    const root = document.querySelector('[data-phx-main]');
    const token = root.getAttribute('data-phx-session');
    let i = Math.floor(token.length / 2);
    while (token[i] === '.') i += 1;
    const swapped = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
    root.setAttribute('data-phx-session', swapped);
    return swapped;
  });
  const loaded = page.waitForEvent('load', { timeout: WAIT });
  await page.evaluate(() => window.liveSocket.socket.conn.close()); // the socket drops: rejoin
  await loaded;
  await pages.connected(page);
  assert.equal(await hasMarker(page), false, 'the page was not loaded again');
  assert.notEqual(await page.getAttribute('[data-phx-main]', 'data-phx-session'), tampered);
  // the new view is attached to the key: it answers, and the moderator's pause reaches it
  await page.click('#choice-0');
  await text(page, '#answer', 'Your answer: A');
  await text(moderator, '#count-0', 'A: Phoenix Channels — 1');
  await moderator.click('#pause');
  await text(page, '#paused', 'The quiz is paused');
});

// The key's authority answers a refused event with a `state:change` (the unchanged state)
// before its error reply; a live view attached to the key must not take that frame for a
// `reset` change (the Rust test `a_refused_answer_is_not_a_reset` shows the same in process).
test(
  'a refused answer is not taken for a reset',
  TEST,
  () =>
    new LivePages(browser, [server], SERVED).run(async (pages) => {
      const quiz = newQuiz();
      const moderator = await openModerator(pages, quiz);
      const [page] = await openParticipants(pages, quiz, 1);
      await page.click('#choice-1');
      await text(page, '#answer', 'Your answer: B');
      await page.click('#choice-2');
      await text(page, '#flash-error', 'you answered question 1 already');
      // the pause comes after the refusal on the key: once the page shows it, it has seen
      // everything the refusal brought
      await moderator.click('#pause');
      await text(page, '#paused', 'The quiz is paused');
      assert.equal(await page.locator('#reset').count(), 0, 'the page took the refusal for a reset');
    }),
);
