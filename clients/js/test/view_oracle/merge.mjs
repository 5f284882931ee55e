// The stock phoenix_live_view client's own merge and render code, run in Node: what the page
// would show after each diff, for the client lines 1.1 and 1.2.
//
// `Rendered` (assets/js/phoenix_live_view/rendered.js) is internal to the package, which only
// exports its prebuilt bundles, so it is bundled here from the sources the package ships
// (assets/js/**, partly TypeScript) with esbuild, once per line, into dist-test/.
//
//   const client = await stockClient('1.2');
//   client.join({s: ['<p>', '</p>'], 0: 'a'});  // -> {html: '<p>a</p>', tree, raw, title}
//   client.apply({0: 'b'});                      // -> {html: '<p>b</p>', ...}
//
// `html` is the page: the client's render with its root-skip optimisation resolved against the
// previous page, as morphdom would (see expandSkips). `tree` renders the merged tree whole,
// without change tracking. `raw` is the client's render as it hands it to morphdom.

import * as esbuild from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = join(JS_DIR, 'dist-test');
const RENDERED = 'assets/js/phoenix_live_view/rendered.js';

/** Client line -> the npm alias (package.json) it is installed as. */
export const LINES = { '1.1': 'phoenix_live_view11', '1.2': 'phoenix_live_view12' };

/** The id of the view under test; it ends every magic id (`m3-phx-oracle`) the client adds. */
const VIEW_ID = 'phx-oracle';
const MAGIC_ID = new RegExp(` data-phx-id="[mc]\\d+-${VIEW_ID}"`, 'g');

const built = new Map();

/** Bundles the line's `Rendered` (once per process) and loads it: {Rendered, version}. */
function load(line) {
  const alias = LINES[line];
  if (!alias) throw new Error(`unknown client line ${line} (known: ${Object.keys(LINES).join(', ')})`);
  if (!built.has(line)) built.set(line, build(alias));
  return built.get(line);
}

async function build(alias) {
  const pkg = join(JS_DIR, 'node_modules', alias);
  const source = join(pkg, RENDERED);
  if (!existsSync(source)) {
    throw new Error(`${source} is missing: run \`npm install\` in clients/js (the package ships assets/js/**)`);
  }
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const outfile = join(OUT_DIR, `${alias}-rendered.mjs`);
  await mkdir(OUT_DIR, { recursive: true });
  await esbuild.build({
    absWorkingDir: JS_DIR,
    stdin: {
      // An absolute path: the package's `exports` map does not expose its sources.
      contents: `export { default as Rendered } from ${JSON.stringify(source)};\n`,
      resolveDir: JS_DIR,
      sourcefile: `${alias}-rendered-entry.js`,
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The client clones keyed trees with `"structuredClone" in window ? ... : ...`; Node has
    // structuredClone on globalThis and no `window`.
    define: { window: 'globalThis' },
    outfile,
    logLevel: 'warning',
  });
  const { Rendered } = await import(pathToFileURL(outfile).href);
  return { Rendered, version };
}

/** The HTML out of `toString`/`recursiveToString`: {buffer} in 1.1 and 1.2, [html, streams] before. */
function htmlOf(out) {
  if (typeof out === 'string') return out;
  if (Array.isArray(out)) return out[0];
  return out.buffer;
}

const VOID = new Set('area base br col command embed hr img input keygen link meta param source track wbr'.split(' '));
const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title']);
const TAG = /<(\/?)([A-Za-z][^\s/>]*)(?:[^>"']|"[^"]*"|'[^']*')*>/y;

/** Where the element whose start tag begins at `start` ends (well-formed HTML assumed). */
function elementEnd(html, start) {
  let depth = 0;
  let i = start;
  while (i < html.length) {
    if (html.startsWith('<!--', i)) {
      const end = html.indexOf('-->', i + 4);
      i = end < 0 ? html.length : end + 3;
      continue;
    }
    TAG.lastIndex = i;
    const m = TAG.exec(html);
    if (!m) {
      const next = html.indexOf('<', i + 1);
      i = next < 0 ? html.length : next;
      continue;
    }
    i = TAG.lastIndex;
    const name = m[2].toLowerCase();
    if (m[1]) {
      depth--;
    } else if (!VOID.has(name) && !m[0].endsWith('/>')) {
      depth++;
      if (RAW_TEXT.has(name)) {
        const close = html.indexOf(`</${name}`, i);
        i = close < 0 ? html.length : close;
      }
    }
    if (depth === 0) return i;
  }
  return html.length;
}

// A root (`r: 1`) that no merge touched since the last render is written as an empty start
// tag, `<tag id=".." data-phx-id="m1-.." data-phx-skip></tag>` (or `<tag ../>` when void,
// and the id only if the element has one), and everything else modifyRoot found after the
// root's start tag up to its last `>` is dropped. morphdom keys elements by id, else by
// data-phx-id, finds the element the page already has (anywhere in the view) and keeps it
// untouched. Without one on the page, the empty element is what gets inserted.
const SKIPPED = /<([^\s/>]+)([^>]*) data-phx-skip(?:\/>|><\/\1>)/g;

/** The client's render with every skipped root replaced by the same root on the page. */
function expandSkips(raw, page) {
  return raw.replace(SKIPPED, (skipped, _tag, attrs) => {
    const id = /data-phx-id="([^"]+)"/.exec(attrs)?.[1];
    // Unskipped roots have their magic id right after the tag name.
    const at = id === undefined ? -1 : page.search(new RegExp(`<[^\\s/>]+ data-phx-id="${id}"`));
    return at < 0 ? skipped : page.slice(at, elementEnd(page, at));
  });
}

/** Strips the magic ids the client adds to roots (and nothing the server wrote). */
const normalise = (html) => html.replace(MAGIC_ID, '');

/** One view on the stock client of `line` ("1.1" or "1.2"): {line, version, join, apply}. */
export async function stockClient(line) {
  const { Rendered, version } = await load(line);
  let rendered = null;
  let page = '';

  // What the client does with a diff after merging it (View.update, View.renderContainer):
  // nothing for an empty diff, else render with the components of this diff as the only
  // ones not skipped, and patch. Component-only diffs patch single components instead; the
  // page comes out the same, so they take the same path here.
  function patch(diff, title) {
    let raw = null;
    if (diff === null || Object.keys(diff).length > 0) {
      const cids = diff ? rendered.componentCIDs(diff) : null;
      raw = htmlOf(rendered.toString(cids));
      page = expandSkips(raw, page);
    }
    return { html: normalise(page), tree: normalise(wholeTree()), raw, title };
  }

  // The merged tree rendered without change tracking, on a copy (rendering resolves
  // templates, resets streams and flags roots as rendered: the client's tree stays as the
  // client left it). Components track changes on their own unless marked `reset`.
  function wholeTree() {
    const copy = structuredClone(rendered.get());
    for (const cid in copy.c) copy.c[cid].reset = true;
    return htmlOf(rendered.recursiveToString(copy, copy.c, null, false, {}, null));
  }

  return {
    line,
    version,
    /** The join's `rendered`: a fresh tree (View.onJoin). */
    join(diff) {
      const extracted = Rendered.extract(structuredClone(diff));
      rendered = new Rendered(VIEW_ID, extracted.diff);
      page = '';
      return patch(null, extracted.title);
    },
    /** A later diff (View.update): extract `t`, `e` and the reply `r`, then merge. */
    apply(diff) {
      if (!rendered) throw new Error('apply before join');
      const extracted = Rendered.extract(structuredClone(diff));
      rendered.mergeDiff(extracted.diff);
      return patch(extracted.diff, extracted.title);
    },
  };
}
