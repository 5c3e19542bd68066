import { test, expect, TRANSPORTS } from './fixtures';

test.describe('binary', () => {
  for (const label of ['websocket', 'polling'] as const) {
    test(`ArrayBuffer and Uint8Array inside an object round-trip byte-exact (${label})`, async ({ harnessPage }) => {
      await harnessPage.evaluate((o) => harness.open('main', '/', o), TRANSPORTS[label]);
      const result = await harnessPage.evaluate(async () => {
        const small = harness.bytes(256, 1); // every byte value once
        const big = harness.bytes(20_000, 5);
        const payload = { name: 'blob', raw: small.buffer, view: big, list: [harness.bytes(3, 9)] };
        // via the ack ...
        const [acked] = await harness.call('main', 'echo', [payload]);
        // ... and via a server emit
        const from = harness.events.main.length;
        harness.emit('main', 'echo_event', [payload]);
        const evt = await harness.waitForEvent('main', 'event', 'echoed', from, 5000);
        const emitted = evt.args[1];
        return {
          ackName: acked.name,
          ack: [harness.sameBytes(acked.raw, small), harness.sameBytes(acked.view, big), harness.sameBytes(acked.list[0], harness.bytes(3, 9))],
          emit: [harness.sameBytes(emitted.raw, small), harness.sameBytes(emitted.view, big), harness.sameBytes(emitted.list[0], harness.bytes(3, 9))],
        };
      });
      expect(result.ackName).toBe('blob');
      for (const check of [...result.ack, ...result.emit]) {
        expect(check).toMatchObject({ ok: true });
      }
    });
  }

  for (const label of ['websocket', 'polling'] as const) {
    test(`a payload just under max_http_buffer_size works, one over it is refused cleanly (${label})`, async ({ harnessPage, appConfig }) => {
      const limit = appConfig.max_http_buffer_size;
      // websocket: the attachment is its own binary frame of N bytes;
      // polling: the whole POST body counts and binary travels base64-encoded ('b' + 4/3 N).
      const under = label === 'websocket' ? limit - 100 : Math.floor(((limit - 200) * 3) / 4);
      const over = label === 'websocket' ? limit + 100 : Math.ceil(((limit + 200) * 3) / 4);
      await harnessPage.evaluate((o) => harness.open('main', '/', o), TRANSPORTS[label]);

      const ok = await harnessPage.evaluate(async (n) => {
        const data = harness.bytes(n, 3);
        const [acked] = await harness.call('main', 'echo', [{ data }], 10000);
        return harness.sameBytes(acked.data, data);
      }, under);
      expect(ok).toEqual({ ok: true, kind: '[object ArrayBuffer]', length: under });

      const refused = await harnessPage.evaluate(async (n) => {
        const from = harness.events.main.length;
        harness.emit('main', 'echo', [{ data: harness.bytes(n, 3) }]);
        const evt = await harness.waitForEvent('main', 'disconnect', null, from, 10000);
        return { reason: evt.args[0], acks: harness.count('main', 'event', 'echo') };
      }, over);
      // the server drops the transport; the page sees a disconnect (and then reconnects)
      expect(['transport close', 'transport error']).toContain(refused.reason);

      // the server stays up: the same page reconnects by itself and a fresh socket works
      await harnessPage.evaluate(() => harness.waitForEvent('main', 'connect', null, 1, 10000));
      const after = await harnessPage.evaluate(async (o) => {
        await harness.open('second', '/', Object.assign({ forceNew: true }, o));
        return (await harness.call('second', 'echo', ['still up']))[0];
      }, TRANSPORTS[label]);
      expect(after).toBe('still up');
    });
  }
});
