import { test, expect, TRANSPORTS } from './fixtures';

test.describe('connect', () => {
  for (const [label, expected] of [
    ['websocket', 'websocket'],
    ['polling', 'polling'],
    ['default', 'websocket'],
  ] as const) {
    test(`${label} transport ends on ${expected}; the handshake sid is what the server sees`, async ({ harnessPage }) => {
      const opts = TRANSPORTS[label];
      const info = await harnessPage.evaluate((o) => harness.open('main', '/', o), opts);
      const settled = await harnessPage.evaluate(
        ([t]) => harness.waitForTransport('main', t, 5000),
        [expected] as const,
      );
      expect(settled.transport).toBe(expected);
      const [server] = await harnessPage.evaluate(() => harness.call('main', 'whoami'));
      // Socket.IO sid (CONNECT packet) and Engine.IO sid (handshake) as the server knows them
      expect(server.sid).toBe(info.id);
      expect(server.eio_sid).toBe(info.engineId);
      expect(server.eio_sid).toBe(settled.engineId);
      expect(server.transport).toBe(expected);
    });
  }
});
