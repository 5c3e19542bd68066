import { test, expect } from './fixtures';

test('rooms across two browser contexts: a room broadcast reaches members only; leaving stops delivery', async ({
  browser,
  openHarness,
}, testInfo) => {
  const tag = `${testInfo.project.name}-${testInfo.testId}-${testInfo.repeatEachIndex}`;
  const room = `room-${tag}`;
  const fenceRoom = `fence-${tag}`;
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  try {
    const a = await openHarness({ context: ctxA });
    const b = await openHarness({ context: ctxB });
    for (const page of [a, b]) {
      await page.evaluate((r) => harness.open('s', '/').then(() => harness.call('s', 'join', [r])), fenceRoom);
    }

    // Sends a room broadcast from `sender`, then returns what each page saw before the fence.
    const broadcast = async (msg: string, fence: string) => {
      await a.evaluate(([m, f, r, fr]) => harness.call('s', 'room_broadcast', [{ room: r, msg: m, fence: f, fence_room: fr }]), [
        msg,
        fence,
        room,
        fenceRoom,
      ] as const);
      const seen = [];
      for (const page of [a, b]) {
        seen.push(
          await page.evaluate(async ([m, f]) => {
            await harness.waitForEvent('s', 'event', 'fence', 0, 5000).then(function wait(): any {
              // the fence for *this* broadcast (earlier fences carry other tokens)
              const fences = harness.events.s.filter((e: any) => e.type === 'event' && e.args[0] === 'fence' && e.args[1] === f);
              return fences.length ? null : new Promise((r) => setTimeout(r, 10)).then(wait);
            });
            return harness.events.s.filter((e: any) => e.type === 'event' && e.args[0] === 'room_msg' && e.args[1] === m).length;
          }, [msg, fence] as const),
        );
      }
      return seen;
    };

    // only A is in the room
    await a.evaluate((r) => harness.call('s', 'join', [r]), room);
    expect(await broadcast('one', 'f1')).toEqual([1, 0]);

    // B joins: both get it
    await b.evaluate((r) => harness.call('s', 'join', [r]), room);
    expect(await broadcast('two', 'f2')).toEqual([1, 1]);

    // A leaves: only B gets it
    await a.evaluate((r) => harness.call('s', 'leave', [r]), room);
    expect(await broadcast('three', 'f3')).toEqual([0, 1]);
  } finally {
    await ctxA.close();
    await ctxB.close();
  }
});
