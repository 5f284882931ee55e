// A redis-server of a test's own, on a free port, for the cluster tests (Node and Chromium).

import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Resolves after `ms` (only to pace polling loops, never as an assertion). */
const pause = (ms) => new Promise((res) => setTimeout(res, ms));

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** A redis-server on a free port, keeping nothing on disk. Fails (never skips) without one. */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'livestate-js-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => (out += d));
  const failed = new Promise((_, rej) => {
    child.once('error', (e) => rej(new Error(`redis-server could not start (scripts/test installs it): ${e.message}`)));
    child.once('exit', (code) => rej(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  const ready = (async () => {
    for (let i = 0; i < 600; i++) {
      if (out.includes('Ready to accept connections')) return;
      await pause(50);
    }
    throw new Error(`redis-server did not get ready: ${out}`);
  })();
  await Promise.race([ready, failed]);
  failed.catch(() => {});
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
