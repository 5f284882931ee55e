// Start a server binary on port 0 and learn its port from the first line it prints: the
// one way every end-to-end test (Node and browser) starts livestate, its test server and
// the examples.

import { spawn } from 'node:child_process';

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Spawns `bin` with `args` and resolves once its first stdout line matches `pattern`
 * (whose first group is the port); rejects with what it printed when it exits first, prints
 * something else, or nothing within 10 s. Resolves to {port, child, stderr(), stop()}.
 * `label` prefixes its stderr when LIVESTATE_TEST_VERBOSE is set.
 */
export async function spawnListening(bin, args, { pattern, label = '' }) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.LIVESTATE_TEST_VERBOSE) process.stderr.write(label ? `[${label}] ${d}` : d);
  });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  exited.then(() => running.delete(child));

  const port = await new Promise((res, rej) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`${bin} printed no listening line within 10 s; stdout: ${stdout}; stderr: ${stderr}`));
    }, 10_000);
    child.stdout.setEncoding('utf8');
    const onData = (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stdout.resume(); // keep draining
      const line = stdout.slice(0, nl);
      const m = pattern.exec(line);
      if (m) res(Number(m[1]));
      else {
        child.kill('SIGKILL');
        rej(new Error(`unexpected first stdout line from ${bin}: ${JSON.stringify(line)}`));
      }
    };
    child.stdout.on('data', onData);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`${bin} exited (code ${code}, signal ${signal}) before listening; stderr: ${stderr}`));
    });
  });

  return {
    port,
    /** The process (to send it signals). */
    child,
    stderr: () => stderr,
    /** SIGTERM, then wait (5 s, then SIGKILL). Resolves to {code, signal}. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
