// Builds the JavaScript artefacts of livestate with esbuild.
//
//   node build.mjs                 test bundles (dist-test/) + the committed bundles (browser,
//                                  React, live)
//   node build.mjs --test-bundles  test bundles only (what `npm test` runs first)
//   node build.mjs --browser       browser bundle only
//   node build.mjs --react         the todo example's React bundle only
//   node build.mjs --live          live-view bundle only
//   node build.mjs --check         rebuild the committed bundles (browser, React, live) in
//                                  memory and fail (exit 1) if one differs from the committed
//                                  file; with --browser, --react or --live, only those
//
// Test bundles: phx-live-state's LiveState plus phoenix's Socket, bundled once against
// phoenix 1.7 and once against phoenix 1.8 (the `phoenix` import is aliased to the
// `phoenix17` / `phoenix18` npm aliases), for Node (ESM). Bundling also resolves
// phx-live-state's `json-joy/esm/json-patch` directory import, which Node's ESM loader refuses.
// Also the live-view bundle below, unminified, once per phoenix_live_view line
// (dist-test/live11.js on 1.1, dist-test/live12.js on 1.2), for browser tests to serve in
// place of /live/live.js.
//
// Browser bundle: src/livestate.js, minified ESM, written to
// crates/livestate-server/assets/livestate.js, served by the server at /livestate.js.
//
// Live-view bundle: src/live.js (a bootstrap that connects a LiveSocket at /live) with the
// stock phoenix and phoenix_live_view 1.2 clients, a minified IIFE (a classic
// `<script defer>`, no exports), written to crates/livestate-server/assets/live.js.
// `phoenix_live_view` is aliased to the `phoenix_live_view12` npm alias; its package.json
// `exports` `import` condition picks priv/static/phoenix_live_view.esm.js, which is
// self-contained (morphdom inlined, no import of `phoenix`: LiveSocket is handed the Socket
// class), so `phoenix` is the one of src/live.js, the `phoenix` package (1.8).
//
// React bundle: the todo example's React page (examples/todo/assets/react-todo.jsx, on the
// useLiveState hook of src/use-live-state.js) with React, minified ESM, written to
// examples/todo/assets/react-todo.js and served by the example at /react.js. phx-live-state
// is not bundled: its import becomes `import ... from "/livestate.js"`, the bundle above.
//
// The builds are deterministic: fixed esbuild version (exact in package.json), fixed target,
// no source maps or absolute paths, working directory pinned to this folder.

import * as esbuild from 'esbuild';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

const BROWSER_BUNDLE = join(repoRoot, 'crates', 'livestate-server', 'assets', 'livestate.js');
const REACT_ENTRY = join(repoRoot, 'examples', 'todo', 'assets', 'react-todo.jsx');
const REACT_BUNDLE = join(repoRoot, 'examples', 'todo', 'assets', 'react-todo.js');
const LIVE_BUNDLE = join(repoRoot, 'crates', 'livestate-server', 'assets', 'live.js');
const TEST_BUNDLE_DIR = join(here, 'dist-test');
/** The phoenix versions the test bundles are built against: npm alias -> bundle file. */
const TEST_BUNDLES = [
  { alias: 'phoenix17', file: 'phoenix17.mjs' },
  { alias: 'phoenix18', file: 'phoenix18.mjs' },
];
/** The phoenix_live_view lines the live-view test bundles are built against: npm alias -> bundle file. */
const LIVE_TEST_BUNDLES = [
  { alias: 'phoenix_live_view11', file: 'live11.js' },
  { alias: 'phoenix_live_view12', file: 'live12.js' },
];
/** The phoenix_live_view of the committed live-view bundle. */
const LIVE_ALIAS = 'phoenix_live_view12';

/** Version of an installed package (read from node_modules: some packages do not export ./package.json). */
function pkgVersion(name) {
  return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
}

async function buildTestBundles() {
  await mkdir(TEST_BUNDLE_DIR, { recursive: true });
  for (const { alias, file } of TEST_BUNDLES) {
    const version = pkgVersion(alias);
    await esbuild.build({
      absWorkingDir: here,
      stdin: {
        contents:
          `export { LiveState } from 'phx-live-state';\n` +
          `export { Socket } from 'phoenix';\n` +
          `export const PHOENIX_VERSION = ${JSON.stringify(version)};\n`,
        resolveDir: here,
        sourcefile: `test-entry-${alias}.js`,
        loader: 'js',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      mainFields: ['module', 'main'],
      alias: { phoenix: alias },
      outfile: join(TEST_BUNDLE_DIR, file),
      logLevel: 'warning',
    });
    console.log(`built ${relative(here, join(TEST_BUNDLE_DIR, file))} (phoenix ${version})`);
  }
  for (const { alias, file } of LIVE_TEST_BUNDLES) {
    const outfile = join(TEST_BUNDLE_DIR, file);
    const out = await buildLive(alias, outfile, {
      minify: false,
      note: 'Test bundle built by clients/js/build.mjs --test-bundles; not committed.',
    });
    await writeFile(outfile, out);
    console.log(`built ${relative(here, outfile)} (phoenix_live_view ${pkgVersion(alias)}, ${out.length} bytes)`);
  }
}

/** src/live.js with phoenix and the phoenix_live_view of the npm alias `alias`, as an IIFE for `outfile`. */
async function buildLive(alias, outfile, { minify, note }) {
  const banner =
    `/* ${basename(outfile)}: phoenix ${pkgVersion('phoenix')} + phoenix_live_view ${pkgVersion(alias)}, ` +
    `esbuild ${esbuild.version}. ${note} */`;
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: ['src/live.js'],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify,
    alias: { phoenix_live_view: alias },
    legalComments: 'eof',
    charset: 'ascii',
    banner: { js: banner },
    write: false,
    outfile,
    logLevel: 'warning',
  });
  return result.outputFiles[0].contents;
}

function buildLiveBundle() {
  return buildLive(LIVE_ALIAS, LIVE_BUNDLE, { minify: true, note: 'Generated by clients/js/build.mjs; do not edit.' });
}

async function buildBrowserBundle() {
  const banner =
    `/* livestate.js: phoenix ${pkgVersion('phoenix')} + phx-live-state ${pkgVersion('phx-live-state')}, ` +
    `esbuild ${esbuild.version}. Generated by clients/js/build.mjs; do not edit. */`;
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: ['src/livestate.js'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    minify: true,
    legalComments: 'eof',
    charset: 'ascii',
    banner: { js: banner },
    write: false,
    outfile: BROWSER_BUNDLE,
    logLevel: 'warning',
  });
  return result.outputFiles[0].contents;
}

/** Points `phx-live-state` at the bundle the server serves, instead of bundling it again. */
const liveStateFromServer = {
  name: 'phx-live-state-from-server',
  setup(build) {
    build.onResolve({ filter: /^phx-live-state$/ }, () => ({ path: '/livestate.js', external: true }));
  },
};

async function buildReactBundle() {
  const banner =
    `/* react-todo.js: examples/todo/assets/react-todo.jsx + clients/js/src/use-live-state.js, ` +
    `react ${pkgVersion('react')}, react-dom ${pkgVersion('react-dom')}, esbuild ${esbuild.version}; ` +
    `phx-live-state comes from /livestate.js. Generated by clients/js/build.mjs; do not edit. */`;
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: [relative(here, REACT_ENTRY)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    minify: true,
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    nodePaths: [join(here, 'node_modules')], // the entry is outside this folder
    plugins: [liveStateFromServer],
    legalComments: 'eof',
    charset: 'ascii',
    banner: { js: banner },
    write: false,
    outfile: REACT_BUNDLE,
    logLevel: 'warning',
  });
  return result.outputFiles[0].contents;
}

/** The committed bundles: where each lives and how it is built. */
const COMMITTED = {
  '--browser': { file: BROWSER_BUNDLE, build: buildBrowserBundle },
  '--react': { file: REACT_BUNDLE, build: buildReactBundle },
  '--live': { file: LIVE_BUNDLE, build: buildLiveBundle },
};

async function check(file, build) {
  const fresh = await build();
  let committed;
  try {
    committed = await readFile(file);
  } catch (e) {
    console.error(`build.mjs --check: cannot read ${relative(here, file)}: ${e.message}`);
    return false;
  }
  if (!Buffer.from(fresh).equals(committed)) {
    console.error(
      `build.mjs --check: ${relative(here, file)} is stale ` +
        `(committed ${committed.length} bytes, fresh build ${fresh.length} bytes); ` +
        `run \`node build.mjs\` in clients/js and commit the result`,
    );
    return false;
  }
  console.log(`${relative(here, file)} is up to date (${committed.length} bytes)`);
  return true;
}

async function main(args) {
  const known = new Set(['--check', '--test-bundles', ...Object.keys(COMMITTED)]);
  for (const a of args) {
    if (!known.has(a)) {
      console.error(`build.mjs: unknown argument ${a}`);
      process.exit(2);
    }
  }
  const only = Object.keys(COMMITTED).filter((flag) => args.includes(flag));
  if (args.includes('--check')) {
    let ok = true;
    for (const flag of only.length ? only : Object.keys(COMMITTED)) {
      const { file, build } = COMMITTED[flag];
      ok = (await check(file, build)) && ok;
    }
    if (!ok) process.exit(1);
    return;
  }
  const all = !args.includes('--test-bundles') && only.length === 0;
  if (all || args.includes('--test-bundles')) await buildTestBundles();
  for (const flag of all ? Object.keys(COMMITTED) : only) {
    const { file, build } = COMMITTED[flag];
    const out = await build();
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, out);
    console.log(`built ${relative(here, file)} (${out.length} bytes)`);
  }
}

await main(process.argv.slice(2));
