// Presence with the stock phoenix client: its `Presence` class lists who is in a room
// from livestate's presence_state and presence_diff events (phoenix 1.7 and 1.8).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import * as phoenix17 from 'phoenix17';
import * as phoenix18 from 'phoenix18';
import { startServer, uniqueTopic, WAIT_MS } from './helpers.mjs';

const server = await startServer('testserver');
after(() => server.stop());

/** Resolve when `check()` holds, polling; fail after WAIT_MS with `what`. */
async function until(check, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const [version, { Socket, Presence }] of [['1.7', phoenix17], ['1.8', phoenix18]]) {
  describe(`Presence with phoenix ${version}`, () => {
    const sockets = [];
    after(() => sockets.forEach((s) => s.disconnect()));

    /** Join `topic` as `key` with `name`; returns the channel and its Presence. */
    function enter(topic, key, name) {
      const socket = new Socket(`ws://127.0.0.1:${server.port}/socket`, { transport: WebSocket });
      sockets.push(socket);
      socket.connect();
      const channel = socket.channel(topic, { presence: { key, meta: { name } } });
      const presence = new Presence(channel);
      channel.join();
      return { socket, channel, presence };
    }

    /** `{key: [names]}` as Presence lists it. */
    const listed = (presence) =>
      Object.fromEntries(presence.list((key, { metas }) => [key, metas.map((m) => m.name).sort()]));

    test('lists who is in the room, with joins and leaves', { timeout: 20_000 }, async () => {
      const topic = uniqueTopic('room');
      const ann = enter(topic, 'ann', 'Ann');
      await until(() => listed(ann.presence).ann, 'ann to see herself');
      const bob = enter(topic, 'bob', 'Bob');
      await until(() => listed(ann.presence).bob && listed(bob.presence).ann, 'both to see each other');
      assert.deepEqual(listed(bob.presence), { ann: ['Ann'], bob: ['Bob'] });

      const annTab = enter(topic, 'ann', 'Ann, tab 2');
      await until(() => listed(bob.presence).ann?.length === 2, 'a second meta under ann');
      assert.deepEqual(listed(bob.presence).ann, ['Ann', 'Ann, tab 2']);

      const left = [];
      ann.presence.onLeave((key, current, leftPres) => left.push([key, leftPres.metas.map((m) => m.name)]));
      bob.channel.leave();
      await until(() => !listed(ann.presence).bob, 'bob to be gone');
      annTab.socket.disconnect();
      await until(() => listed(ann.presence).ann?.length === 1, 'the second tab to be gone');
      assert.deepEqual(listed(ann.presence), { ann: ['Ann'] });
      assert.deepEqual(left, [['bob', ['Bob']], ['ann', ['Ann, tab 2']]]);
    });
  });
}
