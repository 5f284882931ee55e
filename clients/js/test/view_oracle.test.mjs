// The diff oracle: the Rust encoder's diffs (livestate-view-oracle) merged by the stock
// phoenix_live_view client's own code, lines 1.1 and 1.2, must give the page the server
// renders whole. First, hand-written diffs that pin the harness (test/view_oracle/merge.mjs).
//
//   LIVESTATE_ORACLE_SEED=7 LIVESTATE_ORACLE_STEPS=2000 node --test test/view_oracle.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LINES, stockClient } from './view_oracle/merge.mjs';

const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Joins with `first`, then applies each of `steps` ([diff, expected html]), checking both renders. */
async function replay(line, first, expected, steps = []) {
  const client = await stockClient(line);
  const check = (out, want, i) => {
    assert.equal(out.html, want, `${line}, step ${i}: the page`);
    assert.equal(out.tree, want, `${line}, step ${i}: the merged tree`);
    return out;
  };
  const outs = [check(client.join(first), expected, 0)];
  steps.forEach(([diff, want], i) => outs.push(check(client.apply(diff), want, i + 1)));
  return outs;
}

for (const line of Object.keys(LINES)) {
  test(`harness ${line}: a dynamic changes`, async () => {
    await replay(line, { s: ['<p>', '</p>'], 0: 'a' }, '<p>a</p>', [[{ 0: 'b' }, '<p>b</p>']]);
  });

  test(`harness ${line}: a nested template is merged without s, replaced with s`, async () => {
    const first = { s: ['<div>', '</div>'], 0: { s: ['<i>', '|', '</i>'], 0: 'a', 1: 'b' } };
    await replay(line, first, '<div><i>a|b</i></div>', [
      [{ 0: { 1: 'c' } }, '<div><i>a|c</i></div>'],
      [{ 0: { s: ['<u>', '</u>'], 0: 'd' } }, '<div><u>d</u></div>'],
      [{ 0: { 0: 'e' } }, '<div><u>e</u></div>'],
      // a dynamic that was a string becomes a template: sent with s
      [{ 0: { 0: { s: ['<b>', '</b>'], 0: 'f' } } }, '<div><u><b>f</b></u></div>'],
      [{ 0: { 0: 'g' } }, '<div><u>g</u></div>'],
    ]);
  });

  test(`harness ${line}: template tables p at the root, in the first and a later diff`, async () => {
    // Indexes are local to one diff: index 0 means another template in the later one.
    const first = {
      s: ['<ul>', '', '</ul>'],
      0: { s: 0, 0: 'a' },
      1: { s: 0, 0: 'b' },
      p: { 0: ['<li>', '</li>'] },
    };
    await replay(line, first, '<ul><li>a</li><li>b</li></ul>', [
      [{ 1: { s: 0, 0: 'c' }, p: { 0: ['<em>', '</em>'] } }, '<ul><li>a</li><em>c</em></ul>'],
      [{ 0: { 0: 'd' } }, '<ul><li>d</li><em>c</em></ul>'],
      // a comprehension's statics from the table too
      [
        { 0: { s: 0, k: { 0: { 0: 'x' }, 1: { 0: 'y' }, kc: 2 } }, p: { 0: ['<b>', '</b>'] } },
        '<ul><b>x</b><b>y</b><em>c</em></ul>',
      ],
    ]);
  });

  test(`harness ${line}: keyed comprehensions`, async () => {
    const li = (...xs) => `<ul>${xs.map((x) => `<li>${x}</li>`).join('')}</ul>`;
    const k = (entries) => ({ 0: { k: entries } });
    const first = { s: ['<ul>', '</ul>'], 0: { s: ['<li>', '</li>'], k: { 0: { 0: 'a' }, 1: { 0: 'b' }, kc: 2 } } };
    await replay(line, first, li('a', 'b'), [
      [k({ 1: { 0: 'x' }, kc: 2 }), li('a', 'x')], // in place
      [k({ 0: 1, 1: 0, kc: 2, km: true }), li('x', 'a')], // moves without diff
      [k({ 0: [1, { 0: 'y' }], 1: 0, kc: 2, km: true }), li('y', 'x')], // a move with diff
      [k({ 2: { 0: 'z' }, kc: 3 }), li('y', 'x', 'z')], // insert at the end
      [k({ 1: { 0: 'n' }, 2: 1, 3: 2, kc: 4, km: true }), li('y', 'n', 'x', 'z')], // in the middle
      [k({ 1: 2, 2: 3, kc: 3, km: true }), li('y', 'x', 'z')], // delete in the middle
      [k({ kc: 1 }), li('y')], // entries at or above kc are dropped
      [k({ kc: 0 }), li()],
      [k({ 0: { 0: 'q' }, kc: 1 }), li('q')],
    ]);
  });

  test(`harness ${line}: a move needs km (the 1.2 client copies the old entries only then)`, async () => {
    const client = await stockClient(line);
    const first = { s: ['<ul>', '</ul>'], 0: { s: ['<li>', '</li>'], k: { 0: { 0: 'a' }, 1: { 0: 'b' }, kc: 2 } } };
    client.join(first);
    const diff = { 0: { k: { 0: { 0: 'A' }, 1: 0, kc: 2 } } }; // entry 0 updated, and moved to 1: no km
    if (line === '1.1') {
      // 1.1 always moves from a copy taken before the merge
      assert.equal(client.apply(diff).html, '<ul><li>A</li><li>a</li></ul>');
    } else {
      // 1.2 has no copy to move from without km
      assert.throws(() => client.apply(diff), TypeError);
    }
  });

  test(`harness ${line}: an untouched root (r: 1) is skipped by the client and kept from the page`, async () => {
    const first = {
      s: ['<div>', '', '', '</div>'],
      0: { s: ['<p class="x">', '</p>'], 0: 'a', r: 1 },
      1: { s: ['<input id="i" value="', '">'], 0: 'v', r: 1 },
      2: 'b',
    };
    const [join, skipped, touched] = await replay(line, first, '<div><p class="x">a</p><input id="i" value="v">b</div>', [
      [{ 2: 'c' }, '<div><p class="x">a</p><input id="i" value="v">c</div>'],
      [{ 0: { 0: 'd' } }, '<div><p class="x">d</p><input id="i" value="v">c</div>'],
    ]);
    assert.match(join.raw, /^<div><p data-phx-id="m\d+-phx-oracle" class="x">a<\/p>/);
    assert.doesNotMatch(join.raw, /data-phx-skip/);
    assert.match(skipped.raw, /<p data-phx-id="m\d+-phx-oracle" data-phx-skip><\/p>/);
    assert.match(skipped.raw, /<input id="i" data-phx-id="m\d+-phx-oracle" data-phx-skip\/>/);
    assert.match(touched.raw, /<p data-phx-id="m\d+-phx-oracle" class="x">d<\/p>/);
  });

  test(`harness ${line}: a skipped root that is not one element loses the rest`, async () => {
    // What r: 1 must never be put on: the skip keeps only the first element.
    const client = await stockClient(line);
    const first = { s: ['', '|', ''], 0: { s: ['<a>1</a><b>', '</b>'], 0: 'x', r: 1 }, 1: 'y' };
    assert.equal(client.join(first).html, '<a>1</a><b>x</b>|y');
    const out = client.apply({ 1: 'z' });
    assert.equal(out.tree, '<a>1</a><b>x</b>|z');
    assert.equal(out.html, '<a>1</a>|z');
  });

  test(`harness ${line}: t is the title, r at the top is a reply, an empty diff renders nothing`, async () => {
    const client = await stockClient(line);
    assert.deepEqual(client.join({ s: ['<p>', '</p>'], 0: 'a', t: 'Hello' }), {
      html: '<p>a</p>',
      tree: '<p>a</p>',
      raw: '<p>a</p>',
      title: 'Hello',
    });
    const titled = client.apply({ t: 'World' });
    assert.equal(titled.title, 'World');
    assert.equal(titled.raw, null);
    assert.equal(titled.html, '<p>a</p>');
    const replied = client.apply({ 0: 'b', r: { ok: 1 }, e: [['ev', {}]] });
    assert.equal(replied.title, undefined);
    assert.equal(replied.html, '<p>b</p>');
  });
}

// ---------------------------------------------------------------------------------------
// The oracle proper: the Rust encoder's diffs, random state changes of its templates.

const ORACLE_BIN = resolve(
  JS_DIR,
  process.env.LIVESTATE_VIEW_ORACLE_BIN || '../../target/debug/livestate-view-oracle',
);
const SEED = process.env.LIVESTATE_ORACLE_SEED || '1';
const STEPS = process.env.LIVESTATE_ORACLE_STEPS || '500';

/** Runs the oracle binary: its JSON lines grouped by template, in order. */
async function oracleSteps() {
  if (!existsSync(ORACLE_BIN)) {
    throw new Error(
      `${ORACLE_BIN} is missing: run \`cargo build --workspace --bins\` in the repository root ` +
        '(or set LIVESTATE_VIEW_ORACLE_BIN)',
    );
  }
  const stdout = await new Promise((res, rej) => {
    execFile(
      ORACLE_BIN,
      ['--seed', SEED, '--steps', STEPS],
      { maxBuffer: 1 << 30, timeout: 120_000 },
      (err, stdout, stderr) => (err ? rej(new Error(`${ORACLE_BIN} failed: ${err.message}\n${stderr}`)) : res(stdout)),
    );
  });
  const templates = new Map();
  for (const text of stdout.split('\n')) {
    if (!text.trim()) continue;
    const line = JSON.parse(text);
    if (!templates.has(line.template)) templates.set(line.template, []);
    const steps = templates.get(line.template);
    assert.equal(line.step, steps.length, `template ${line.template}: steps out of order`);
    assert.equal(String(line.seed), SEED, `template ${line.template}: seed`);
    steps.push(line);
  }
  return templates;
}

test(`view oracle: seed ${SEED}, ${STEPS} steps (LIVESTATE_ORACLE_SEED, LIVESTATE_ORACLE_STEPS)`, async (t) => {
  t.diagnostic(`replay: LIVESTATE_ORACLE_SEED=${SEED} LIVESTATE_ORACLE_STEPS=${STEPS}`);
  const templates = await oracleSteps();
  assert.ok(templates.size >= 1, 'the oracle printed no template');
  for (const [name, steps] of templates) {
    assert.ok(steps.length >= 2, `template ${name}: ${steps.length} step(s), want at least 2`);
  }
  for (const line of Object.keys(LINES)) {
    for (const [name, steps] of templates) {
      await t.test(`${line} ${name}`, async () => {
        const client = await stockClient(line);
        let shownTitle = null;
        for (const { step, diff, html, title } of steps) {
          const out = step === 0 ? client.join(diff) : client.apply(diff);
          if (out.title !== undefined) shownTitle = out.title;
          const where =
            `client ${line} (phoenix_live_view ${client.version}), template ${name}, ` +
            `seed ${SEED}, step ${step}, diff ${JSON.stringify(diff)}`;
          assert.equal(out.html, html, `${where}: the page`);
          assert.equal(out.tree, html, `${where}: the merged tree`);
          if (title !== null) assert.equal(shownTitle, title, `${where}: the title`);
        }
      });
    }
  }
});
