// Load generator for tests/benchmarks/bench_server.py: socket.io-client 4.8 over WebSocket.
//
//   node loadgen.js WORKLOAD URL [key=value ...]   -> one JSON line with the result
//
// Workloads (every loop is bounded in count and by a deadline):
//   echo       N clients each send `count` acked echoes back to back     -> acks/s
//   broadcast  N clients join room r, one sends `count` bcast emits    -> deliveries/s
//   rooms      `rooms` rooms of `size` clients, one sender per room    -> deliveries/s
//   connects   `count` connect+disconnect, `concurrency` at a time     -> connects/s
//   latency    one client, pairs of acked echoes sent back to back      -> p50/p99 ms
//   idle       N idle clients; prints {"ready":N}, waits for a line on stdin, then closes
"use strict";
const { io } = require("socket.io-client");

const [workload, url, ...rest] = process.argv.slice(2);
const opt = Object.fromEntries(rest.map((kv) => kv.split("=")).map(([k, v]) => [k, Number(v)]));
const deadlineMs = (opt.timeout || 60) * 1000;
const started = Date.now();
const payload = { text: "hello from the load generator", n: 42, list: [1, 2, 3] };

function connect() {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    const timer = setTimeout(() => reject(new Error("connect timeout")), 20000);
    socket.once("connect", () => { clearTimeout(timer); resolve(socket); });
    socket.once("connect_error", (err) => { clearTimeout(timer); reject(err); });
  });
}

async function connectMany(n, batch = 50) {
  const sockets = [];
  for (let i = 0; i < n; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(n, i + batch); j++) group.push(connect());
    sockets.push(...(await Promise.all(group)));
  }
  return sockets;
}

function ack(socket, event, data) {
  return socket.timeout(20000).emitWithAck(event, data);
}

function closeAll(sockets) {
  for (const s of sockets) s.disconnect();
}

function checkDeadline() {
  if (Date.now() - started > deadlineMs) throw new Error(`${workload}: deadline exceeded`);
}

async function echo() {
  const sockets = await connectMany(opt.clients || 50);
  const count = opt.count || 200;
  const t0 = process.hrtime.bigint();
  await Promise.all(sockets.map(async (s) => {
    for (let i = 0; i < count; i++) {
      const reply = await ack(s, "echo", payload);
      if (reply.n !== 42) throw new Error("bad echo reply");
      if (i % 50 === 0) checkDeadline();
    }
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  closeAll(sockets);
  return { rate: (sockets.length * count) / seconds, seconds };
}

// deliveries from `senders` (one per room) to every member of each room, in order or not
async function roomTraffic(rooms, size, count) {
  const members = await connectMany(rooms * size);
  await Promise.all(members.map((s, i) => ack(s, "join", `room${i % rooms}`)));
  const expected = rooms * size * count;
  let received = 0;
  let outOfOrder = 0;
  let t0;
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout: ${received}/${expected}`)),
      Math.max(1000, deadlineMs - (Date.now() - started)));
    members.forEach((s) => {
      const last = new Map();
      s.on("bcast", (data) => {
        if (data.i <= (last.get(data.room) ?? -1)) outOfOrder++;
        last.set(data.room, data.i);
        if (++received === expected) { clearTimeout(timer); resolve(); }
      });
    });
  });
  t0 = process.hrtime.bigint();
  for (let r = 0; r < rooms; r++) {
    const sender = members[r];  // member r is in room r (i % rooms)
    for (let i = 0; i < count; i++) sender.emit("bcast", { room: `room${r}`, i, text: "x".repeat(40) });
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  closeAll(members);
  return { rate: expected / seconds, seconds, out_of_order: outOfOrder };
}

async function connects() {
  const count = opt.count || 300;
  const concurrency = opt.concurrency || 10;
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      const s = await connect();
      s.disconnect();
      checkDeadline();
    }
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rate: count / seconds, seconds };
}

async function latency() {
  const [s] = await connectMany(1);
  const samples = [];
  const pairs = opt.pairs || 300;
  for (let i = 0; i < pairs; i++) {
    const t0 = process.hrtime.bigint();
    const first = ack(s, "echo", payload).then(() => Number(process.hrtime.bigint() - t0) / 1e6);
    const second = ack(s, "echo", payload).then(() => Number(process.hrtime.bigint() - t0) / 1e6);
    samples.push(...(await Promise.all([first, second])));
    await new Promise((r) => setTimeout(r, 2));
    checkDeadline();
  }
  s.disconnect();
  samples.sort((a, b) => a - b);
  const q = (p) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
  return { p50: q(0.5), p99: q(0.99), samples: samples.length };
}

async function idle() {
  const sockets = await connectMany(opt.clients || 1000);
  process.stdout.write(JSON.stringify({ ready: sockets.length }) + "\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  closeAll(sockets);
  return { closed: sockets.length };
}

const workloads = {
  echo,
  broadcast: () => roomTraffic(1, opt.clients || 200, opt.count || 1000),
  rooms: () => roomTraffic(opt.rooms || 50, opt.size || 10, opt.count || 100),
  connects,
  latency,
  idle,
};

(async () => {
  if (!workloads[workload]) throw new Error(`unknown workload ${workload}`);
  const result = await workloads[workload]();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
