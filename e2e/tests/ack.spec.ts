import { test, expect, TRANSPORTS } from './fixtures';

test.describe('acks', () => {
  for (const label of ['websocket', 'polling'] as const) {
    test(`browser -> server: emit with ack returns the handler's value (${label})`, async ({ harnessPage }) => {
      await harnessPage.evaluate((o) => harness.open('main', '/', o), TRANSPORTS[label]);
      const payload = { text: 'héllo ✓', n: 42, nested: { list: [1, 'two', null, true] } };
      const ack = await harnessPage.evaluate((p) => harness.call('main', 'echo', [p]), payload);
      expect(ack).toEqual([payload]);
    });

    test(`server -> browser: socketio.call() returns the browser's ack value (${label})`, async ({ harnessPage }) => {
      await harnessPage.evaluate((o) => harness.open('main', '/', o), TRANSPORTS[label]);
      await harnessPage.evaluate(() => { harness.answers.main = { from: 'browser', value: 7 }; });
      // the 'ask' handler calls socketio.call('question', ...) on this client and acks its answer
      const [result] = await harnessPage.evaluate(() => harness.call('main', 'ask', [{ q: 'ping?' }]));
      expect(result).toEqual({ browser_answered: { asked: { q: 'ping?' }, answer: { from: 'browser', value: 7 } } });
    });
  }
});
