// Shared helpers for the end-to-end tests: start a livestate binary, load the two client
// bundles (phoenix 1.7 and 1.8), open LiveState clients that record every WebSocket frame.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { spawnListening } from './process.mjs';

export const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Default time a wait may take before the test fails (ms). */
export const WAIT_MS = 5000;

// phx-live-state logs every join (console.debug) and every error (console.log). Keep the
// test output readable unless asked for.
if (!process.env.LIVESTATE_TEST_VERBOSE) {
  console.debug = () => {};
  console.log = () => {};
}

// ---------------------------------------------------------------------------------------
// Servers

const BINARIES = {
  livestate: { env: 'LIVESTATE_BIN', fallback: '../../target/debug/livestate' },
  testserver: { env: 'LIVESTATE_TESTSERVER_BIN', fallback: '../../target/debug/livestate-testserver' },
};

/**
 * Starts `livestate serve` (kind "livestate") or `livestate-testserver serve` (kind
 * "testserver") on 127.0.0.1:0 and resolves once it printed its listening line.
 * Throws (never skips) when the binary is missing or does not start.
 */
export async function startServer(kind, extraArgs = []) {
  const spec = BINARIES[kind];
  if (!spec) throw new Error(`unknown server kind ${kind}`);
  const bin = resolve(JS_DIR, process.env[spec.env] || spec.fallback);
  if (!existsSync(bin)) {
    throw new Error(
      `${kind} binary not found at ${bin} (set ${spec.env}, or run ` +
        '`cargo build -p livestate-cli -p livestate-testkit --bins` in the repository root)',
    );
  }
  const server = await spawnListening(bin, ['serve', '--bind', '127.0.0.1:0', ...extraArgs], {
    pattern: /^livestate listening on 127\.0\.0\.1:(\d+)$/,
  });
  return { kind, ...server, url: `ws://127.0.0.1:${server.port}/socket` };
}

// ---------------------------------------------------------------------------------------
// Client bundles

/** The client bundles built by `node build.mjs --test-bundles`, one per phoenix version. */
export async function loadBundles() {
  const bundles = [];
  for (const file of ['phoenix17.mjs', 'phoenix18.mjs']) {
    const path = join(JS_DIR, 'dist-test', file);
    if (!existsSync(path)) {
      throw new Error(`${path} is missing: run \`node build.mjs --test-bundles\` (npm test does)`);
    }
    const mod = await import(pathToFileURL(path).href);
    bundles.push({
      name: `phoenix ${mod.PHOENIX_VERSION}`,
      version: mod.PHOENIX_VERSION,
      major: mod.PHOENIX_VERSION.split('.').slice(0, 2).join('.'),
      LiveState: mod.LiveState,
      Socket: mod.Socket,
    });
  }
  return bundles;
}

/** A topic no other test uses. */
export function uniqueTopic(prefix) {
  return `${prefix}:${randomBytes(6).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------
// Clients

/**
 * A `ws` WebSocket subclass that records every frame in both directions (parsed JSON), and
 * the handshake (offered and accepted sub-protocols).
 */
function recordingTransport(rec) {
  return class RecordingWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      rec.url = url;
      rec.offeredProtocols = protocols;
      this.on('upgrade', (res) => {
        rec.acceptedProtocol = res.headers['sec-websocket-protocol'];
      });
      this.on('message', (data, isBinary) => {
        rec.push('in', isBinary ? data : JSON.parse(data.toString('utf8')));
      });
      this.on('close', (code, reason) => rec.closes.push({ code, reason: reason.toString() }));
    }
    send(data, ...rest) {
      rec.push('out', typeof data === 'string' ? JSON.parse(data) : data);
      return super.send(data, ...rest);
    }
  };
}

/**
 * A phx-live-state `LiveState` plus a record of its events and WebSocket frames.
 * Events are recorded from construction on, so a wait never misses one that came early.
 */
export class Client {
  constructor(bundle, server, topic, { params, socketOptions = {}, listen = [] } = {}) {
    this.topic = topic;
    this.bundle = bundle;
    this.frames = []; // {dir: 'in'|'out', frame: [join_ref, ref, topic, event, payload]}
    this.events = new Map(); // type -> [detail]
    this.waiters = new Set();
    const rec = {
      closes: [],
      push: (dir, frame) => {
        this.frames.push({ dir, frame });
      },
    };
    this.rec = rec;
    this.ls = new bundle.LiveState({
      url: server.url,
      topic,
      params,
      socketOptions: { transport: recordingTransport(rec), ...socketOptions },
    });
    for (const type of ['livestate-change', 'livestate-patch', 'livestate-error', ...listen]) {
      this.events.set(type, []);
      this.ls.addEventListener(type, (e) => this.#record(type, e.detail));
    }
  }

  #record(type, detail) {
    this.events.get(type).push(detail);
    for (const w of [...this.waiters]) w.check();
  }

  connect() {
    this.ls.connect();
    // Remember the pushes, to stop their timers on close: pushes that get no phx_reply
    // (lvs_refresh, an event whose handler crashed) would otherwise keep the process alive
    // for phoenix's 10 s push timeout.
    const channel = this.ls.channel;
    const push = channel.push.bind(channel);
    this.pushes ??= [];
    channel.push = (...args) => {
      const p = push(...args);
      this.pushes.push(p);
      return p;
    };
    return this;
  }

  close() {
    for (const w of [...this.waiters]) w.cancel();
    if (this.ls.connected) this.ls.disconnect();
    for (const p of this.pushes || []) p.cancelTimeout();
  }

  /** Number of `type` events seen so far: pass it as `since` to wait only for later ones. */
  mark(type = 'livestate-change') {
    return this.events.get(type).length;
  }

  /** Sends a LiveState event (pushed as `lvs_evt:NAME`). */
  send(name, detail = {}) {
    this.ls.dispatchEvent(new CustomEvent(name, { detail }));
  }

  /**
   * Resolves with the detail of the first `type` event (from index `since` on) for which
   * `pred(detail)` holds; rejects after `timeout` ms with the recorded frames.
   */
  waitFor(type, pred = () => true, { since = 0, timeout = WAIT_MS, what } = {}) {
    const list = this.events.get(type);
    if (!list) throw new Error(`not listening to ${type}`);
    return new Promise((res, rej) => {
      const w = {
        check: () => {
          for (let i = since; i < list.length; i++) {
            if (pred(list[i])) {
              this.waiters.delete(w);
              clearTimeout(timer);
              res(list[i]);
              return;
            }
          }
        },
        cancel: () => {
          this.waiters.delete(w);
          clearTimeout(timer);
          rej(new Error(`${this.topic}: wait for ${what || type} cancelled (client closed)`));
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        rej(
          new Error(
            `${this.bundle.name} ${this.topic}: no ${what || type} within ${timeout} ms; ` +
              `${type} events: ${JSON.stringify(list.slice(since))}\n${this.transcript()}`,
          ),
        );
      }, timeout);
      this.waiters.add(w);
      w.check();
    });
  }

  /** Waits for a `livestate-change` with the given version (state as the client has it). */
  waitForVersion(version, opts = {}) {
    return this.waitFor('livestate-change', (d) => d.version === version, {
      what: `livestate-change with version ${version}`,
      ...opts,
    });
  }

  /** Frames in one direction, optionally only those with the given event. */
  framesOf(dir, event) {
    return this.frames
      .filter((f) => f.dir === dir && (event === undefined || f.frame[3] === event))
      .map((f) => f.frame);
  }

  /** The frames as text, for failure messages. */
  transcript(last = 40) {
    const lines = this.frames
      .slice(-last)
      .map(({ dir, frame }) => `${dir === 'in' ? 'S' : 'C'} ${JSON.stringify(frame)}`);
    return `last ${lines.length} frames of ${this.topic}:\n  ${lines.join('\n  ')}`;
  }
}

/**
 * Opens a client, connects it and waits for its first `livestate-change` (the joined state).
 * The client is closed when the test ends.
 */
export async function joined(t, bundle, server, topic, opts = {}) {
  const c = open(t, bundle, server, topic, opts);
  await c.waitFor('livestate-change', () => true, { what: 'the first livestate-change' });
  return c;
}

/** Opens and connects a client that is closed when the test `t` ends. */
export function open(t, bundle, server, topic, opts = {}) {
  const c = new Client(bundle, server, topic, opts).connect();
  t.after(() => c.close());
  return c;
}

export function sleep(ms) {
  return new Promise((res) => setTimeout(res, ms));
}
