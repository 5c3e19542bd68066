// One Socket.IO session over a raw WebSocket, for the `handshakes` workload of loadgen.js:
// upgrade, OPEN, CONNECT to "/", its answer, DISCONNECT, close. Written by hand because
// socket.io-client spends more CPU per connect than the servers do (about 830 µs against
// 570-600 µs measured here), so a connect rate driven by it measures the client; this costs
// about 220 µs. Loopback benchmark only: the mask key is zero (valid framing, unmasked bytes).
"use strict";
const net = require("net");

function maskedFrame(opcode, payload) {
  const frame = Buffer.alloc(6 + payload.length); // payloads here are under 126 bytes
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  payload.copy(frame, 6);
  return frame;
}

const CONNECT = maskedFrame(1, Buffer.from("40"));
const GOODBYE = Buffer.concat([maskedFrame(1, Buffer.from("41")), maskedFrame(8, Buffer.from([3, 232]))]);

function request(host) {
  return Buffer.from(
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
      `Host: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
  );
}

// Resolves once the server closed the connection after our DISCONNECT; rejects on anything else.
function handshake(url, timeoutMs = 10000) {
  const { hostname, port, host } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    sock.setNoDelay(true);
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    let step = "upgrade";
    const fail = (message) => { step = "failed"; sock.destroy(); reject(new Error(message)); };
    const timer = setTimeout(() => fail(`handshake timeout at ${step}`), timeoutMs);
    sock.on("connect", () => sock.write(request(host)));
    sock.on("error", (err) => fail(`handshake: ${err.message}`));
    sock.on("close", () => {
      clearTimeout(timer);
      if (step === "disconnected") resolve();
      else if (step !== "failed") reject(new Error(`closed by the server at ${step}`));
    });
    sock.on("data", (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      if (!upgraded) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const status = buffered.subarray(0, end).toString("latin1").split("\r\n")[0];
        if (!status.includes(" 101 ")) return fail(`no upgrade: ${status}`);
        upgraded = true;
        step = "open";
        buffered = buffered.subarray(end + 4);
      }
      while (buffered.length >= 2) {
        let length = buffered[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffered.length < 4) return;
          length = buffered.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) return fail("unexpected 64-bit frame length");
        if (buffered.length < offset + length) return;
        const opcode = buffered[0] & 0x0f;
        const text = buffered.subarray(offset, offset + length).toString();
        buffered = buffered.subarray(offset + length);
        if (opcode === 8) { sock.end(); continue; }
        if (step === "open" && text[0] === "0") { step = "connect"; sock.write(CONNECT); }
        else if (step === "connect" && text.startsWith("40")) { step = "disconnected"; sock.write(GOODBYE); }
        else if (step === "connect" && text.startsWith("44")) return fail(`connect refused: ${text}`);
      }
    });
  });
}

module.exports = { handshake };
