import { test, expect, TRANSPORTS } from './fixtures';

test.describe('binary', () => {
  for (const label of ['websocket', 'polling'] as const) {
    test(`ArrayBuffer and Uint8Array inside an object round-trip byte-exact (${label})`, async ({ client }) => {
      await client.evaluate((o) => h.open('main', '/', o), TRANSPORTS[label]);
      const result = await client.evaluate(async () => {
        const small = h.bytes(256, 1); // every byte value once
        const big = h.bytes(20_000, 5);
        const payload = { name: 'blob', raw: small.buffer, view: big, list: [h.bytes(3, 9)] };
        // via the ack ...
        const [acked] = await h.call('main', 'echo', [payload]);
        // ... and via a server emit
        const from = h.events.main.length;
        h.emit('main', 'echo_event', [payload]);
        const evt = await h.waitForEvent('main', 'event', 'echoed', from, 5000);
        const emitted = evt.args[1];
        return {
          ackName: acked.name,
          ack: [h.sameBytes(acked.raw, small), h.sameBytes(acked.view, big), h.sameBytes(acked.list[0], h.bytes(3, 9))],
          emit: [h.sameBytes(emitted.raw, small), h.sameBytes(emitted.view, big), h.sameBytes(emitted.list[0], h.bytes(3, 9))],
        };
      });
      expect(result.ackName).toBe('blob');
      for (const check of [...result.ack, ...result.emit]) {
        expect(check).toMatchObject({ ok: true });
      }
    });
  }

  for (const label of ['websocket', 'polling'] as const) {
    test(`a payload just under max_http_buffer_size works, one over it is refused cleanly (${label})`, async ({ client, appConfig }) => {
      const limit = appConfig.max_http_buffer_size;
      // websocket: the attachment is its own binary frame of N bytes;
      // polling: the whole POST body counts and binary travels base64-encoded ('b' + 4/3 N).
      const under = label === 'websocket' ? limit - 100 : Math.floor(((limit - 200) * 3) / 4);
      const over = label === 'websocket' ? limit + 100 : Math.ceil(((limit + 200) * 3) / 4);
      await client.evaluate((o) => h.open('main', '/', o), TRANSPORTS[label]);

      const ok = await client.evaluate(async (n) => {
        const data = h.bytes(n, 3);
        const [acked] = await h.call('main', 'echo', [{ data }], 10000);
        return h.sameBytes(acked.data, data);
      }, under);
      expect(ok).toEqual({ ok: true, kind: '[object ArrayBuffer]', length: under });

      const refused = await client.evaluate(async (n) => {
        const from = h.events.main.length;
        h.emit('main', 'echo', [{ data: h.bytes(n, 3) }]);
        const evt = await h.waitForEvent('main', 'disconnect', null, from, 10000);
        return { reason: evt.args[0], acks: h.count('main', 'event', 'echo') };
      }, over);
      // the server drops the transport; the page sees a disconnect (and then reconnects)
      expect(['transport close', 'transport error']).toContain(refused.reason);

      // the server stays up: the same page reconnects by itself and a fresh socket works
      await client.evaluate(() => h.waitForEvent('main', 'connect', null, 1, 10000));
      const after = await client.evaluate(async (o) => {
        await h.open('second', '/', Object.assign({ forceNew: true }, o));
        return (await h.call('second', 'echo', ['still up']))[0];
      }, TRANSPORTS[label]);
      expect(after).toBe('still up');
    });
  }
});
