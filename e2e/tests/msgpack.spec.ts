import { test, expect, TRANSPORTS } from './fixtures';

// socket.io-msgpack-parser encodes with notepack.io, whose browser build packs ArrayBuffer as
// msgpack bin but has no case for typed arrays (a Uint8Array becomes a map of indices), so the
// page sends ArrayBuffers here.
test.describe('msgpack', () => {
  for (const label of ['websocket', 'polling'] as const) {
    test(`serializer='msgpack' with socket.io-msgpack-parser: events, acks and binary round-trip (${label})`, async ({
      harnessPage,
      openHarness,
      spawnServer,
    }) => {
      const server = await spawnServer({ serializer: 'msgpack' });
      const page = await openHarness({ origin: server.origin, context: harnessPage.context() });
      const frames = { text: [] as string[], binary: 0 };
      page.on('websocket', (ws) =>
        ws.on('framereceived', ({ payload }) => {
          if (typeof payload === 'string') frames.text.push(payload);
          else frames.binary += 1;
        }),
      );
      const result = await page.evaluate(async (o) => {
        const info = await harness.open('mp', '/', Object.assign({ parser: 'msgpack' }, o));
        const bytes = harness.bytes(5000, 11);
        const small = harness.bytes(16, 2);
        const payload = { text: 'msgpack ✓', n: 3.5, big: 2 ** 40, list: [1, null, true], raw: bytes.buffer, nested: { items: [small.buffer] } };
        const [acked] = await harness.call('mp', 'echo', [payload]);
        const from = harness.events.mp.length;
        harness.emit('mp', 'echo_event', [payload]);
        const evt = await harness.waitForEvent('mp', 'event', 'echoed', from, 5000);
        const emitted = evt.args[1];
        const [seen] = await harness.call('mp', 'whoami');
        const check = (got: any) => ({
          text: got.text,
          n: got.n,
          big: got.big,
          list: got.list,
          raw: harness.sameBytes(got.raw, bytes),
          nested: harness.sameBytes(got.nested.items[0], small),
        });
        return { info, seen, ack: check(acked), emit: check(emitted) };
      }, TRANSPORTS[label]);
      expect(result.seen.sid).toBe(result.info.id);
      for (const got of [result.ack, result.emit]) {
        expect(got).toMatchObject({
          text: 'msgpack ✓',
          n: 3.5,
          big: 2 ** 40,
          list: [1, null, true],
          raw: { ok: true, length: 5000 },
          nested: { ok: true, length: 16 },
        });
      }
      if (label === 'websocket') {
        // Socket.IO packets travel as msgpack (binary frames); text frames are Engine.IO only
        expect(frames.binary).toBeGreaterThanOrEqual(4);
        expect(frames.text.filter((f) => f.startsWith('4'))).toEqual([]);
      }
    });
  }
});
