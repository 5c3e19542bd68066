import { test, expect, TRANSPORTS } from './fixtures';

test.describe('disconnect and reconnect', () => {
  test("server-side disconnect() is seen by the page as 'io server disconnect'", async ({ harnessPage }) => {
    const result = await harnessPage.evaluate(async () => {
      await harness.open('main', '/');
      const from = harness.events.main.length;
      harness.emit('main', 'kick_me');
      const evt = await harness.waitForEvent('main', 'disconnect', null, from, 5000);
      // the client does not reconnect after a server-side disconnect
      await new Promise((r) => setTimeout(r, 600));
      return { reason: evt.args[0], connected: harness.sockets.main.connected, connects: harness.count('main', 'connect') };
    });
    expect(result).toEqual({ reason: 'io server disconnect', connected: false, connects: 1 });
  });

  for (const label of ['websocket', 'polling', 'default'] as const) {
    test(`after the server restarts the client reconnects on its own and events flow (${label})`, async ({
      harnessPage,
      spawnServer,
      appURL,
    }) => {
      const server = await spawnServer({ cors_allowed_origins: appURL });
      const before = await harnessPage.evaluate(async ([url, o]) => {
        const info = await harness.open('r', url, o);
        await harness.call('r', 'join', ['survivors']);
        return info;
      }, [server.origin, TRANSPORTS[label]] as const);
      expect((await harnessPage.evaluate(() => harness.call('r', 'echo', ['before'])))[0]).toBe('before');

      await server.restart(0.3);

      const after = await harnessPage.evaluate(async () => {
        const disc = await harness.waitForEvent('r', 'disconnect', null, 0, 5000);
        await harness.waitForEvent('r', 'connect', null, disc.index, 10000);
        const [echo] = await harness.call('r', 'echo', ['after']);
        const [seen] = await harness.call('r', 'whoami');
        return { reason: disc.args[0], echo, seen, info: harness.info('r') };
      });
      expect(['transport close', 'transport error']).toContain(after.reason);
      expect(after.echo).toBe('after');
      // a brand-new server: new session ids, and what the page has is what it sees
      expect(after.info.engineId).not.toBe(before.engineId);
      expect(after.seen.sid).toBe(after.info.id);
      expect(after.seen.eio_sid).toBe(after.info.engineId);
    });
  }
});
