// Load generator for tests/benchmarks/bench_server.py: socket.io-client 4.8 over WebSocket.
//
//   node loadgen.js WORKLOAD URL [key=value ...]   -> one JSON line with the result
//
// Workloads (every loop is bounded in count and by a deadline):
//   echo       N clients each send `count` acked echoes back to back     -> acks/s
//   broadcast  N clients join room r, one sends `count` bcast emits    -> deliveries/s
//   rooms      `rooms` rooms of `size` clients, one sender per room    -> deliveries/s
//              (both: `workers=K` receives in K processes, see roomTraffic)
//   connects   `count` connect+disconnect, `concurrency` at a time     -> connects/s, CPU s
//   handshakes the same with the minimal client of handshake.js         -> connects/s, CPU s
//   latency    one client, pairs of acked echoes sent back to back      -> p50/p99 ms
//   idle       N idle clients; prints {"ready":N}, waits for a line on stdin, then closes
"use strict";
const { io } = require("socket.io-client");
const { handshake } = require("./handshake");

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

// Room traffic is received in `workers` processes (option, default 1): one Node process is
// one core, and 200 receiving clients can keep it busier than the server. Client j joins room
// j % rooms; clients 0..rooms-1 send (one per room) and live in the main process, the others
// are dealt round-robin over the processes. Every process counts its own deliveries.
const epochMs = () => performance.timeOrigin + performance.now();  // comparable across processes

function roomMembers(rooms, size, workers, index) {
  const mine = [];
  for (let j = 0; j < rooms * size; j++) {
    const owner = j < rooms ? 0 : (j - rooms) % workers;
    if (owner === index) mine.push(j);
  }
  return mine;
}

// connects and joins this process's clients; `done` resolves once each got `count` messages
async function joinRooms(rooms, size, count, workers, index) {
  const ids = roomMembers(rooms, size, workers, index);
  const sockets = await connectMany(ids.length);
  await Promise.all(sockets.map((s, k) => ack(s, "join", `room${ids[k] % rooms}`)));
  const expected = ids.length * count;
  const tally = { received: 0, outOfOrder: 0, end: 0 };
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout: ${tally.received}/${expected}`)),
      Math.max(1000, deadlineMs - (Date.now() - started)));
    const finish = () => { tally.end = epochMs(); clearTimeout(timer); resolve(tally); };
    if (expected === 0) finish();
    sockets.forEach((s) => {
      const last = new Map();
      s.on("bcast", (data) => {
        if (data.i <= (last.get(data.room) ?? -1)) tally.outOfOrder++;
        last.set(data.room, data.i);
        if (++tally.received === expected) finish();
      });
    });
  });
  return { sockets, done };
}

// a helper process of roomTraffic (forked with IPC): joins, reports ready, then its tally
async function member() {
  const own = await joinRooms(opt.rooms, opt.size, opt.count, opt.workers, opt.index);
  process.on("disconnect", () => process.exit(1));  // the parent is gone: so are we
  process.send({ ready: own.sockets.length });
  process.send({ tally: await own.done });
  await new Promise((resolve) => process.once("message", resolve));  // "close"
  closeAll(own.sockets);
  return { closed: own.sockets.length };
}

// a forked helper; `next()` is its next IPC message
function helper(rooms, size, count, workers, index) {
  const { fork } = require("child_process");
  const args = ["member", url, `rooms=${rooms}`, `size=${size}`, `count=${count}`,
    `workers=${workers}`, `index=${index}`, `timeout=${opt.timeout || 60}`];
  const child = fork(__filename, args, { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const messages = [];
  let waiting = null;
  let exited = null;
  child.on("message", (m) => (waiting ? (waiting.resolve(m), (waiting = null)) : messages.push(m)));
  child.on("exit", (code) => {
    exited = new Error(`helper ${index} exited with ${code}`);
    if (waiting) waiting.reject(exited);
  });
  const ended = new Promise((resolve) => child.once("exit", resolve));
  process.on("exit", () => child.kill());  // a failing parent leaves no helper behind
  const next = () => {
    if (messages.length) return Promise.resolve(messages.shift());
    if (exited) return Promise.reject(exited);
    return new Promise((resolve, reject) => { waiting = { resolve, reject }; });
  };
  return { child, next, ended };
}

// deliveries from one sender per room to every member of each room, in order or not
async function roomTraffic(rooms, size, count) {
  const workers = Math.max(1, opt.workers || 1);
  const helpers = Array.from({ length: workers - 1 }, (_, k) => helper(rooms, size, count, workers, k + 1));
  const own = await joinRooms(rooms, size, count, workers, 0);
  for (const h of helpers) await h.next();  // {ready}
  const t0 = epochMs();
  for (let r = 0; r < rooms; r++) {
    const sender = own.sockets[r];  // client r, of room r
    for (let i = 0; i < count; i++) sender.emit("bcast", { room: `room${r}`, i, text: "x".repeat(40) });
  }
  const all = [await own.done];
  for (const h of helpers) all.push((await h.next()).tally);
  const seconds = (Math.max(...all.map((t) => t.end)) - t0) / 1000;
  helpers.forEach((h) => h.child.send("close"));
  closeAll(own.sockets);
  await Promise.all(helpers.map((h) => h.ended));  // each closed its clients and exited
  const expected = rooms * size * count;
  const received = all.reduce((n, t) => n + t.received, 0);
  if (received !== expected) throw new Error(`received ${received} of ${expected}`);
  const outOfOrder = all.reduce((n, t) => n + t.outOfOrder, 0);
  return { rate: expected / seconds, seconds, out_of_order: outOfOrder, workers };
}

async function connects(session = async () => (await connect()).disconnect()) {
  const count = opt.count || 300;
  const concurrency = opt.concurrency || 10;
  let next = 0;
  const cpu0 = process.cpuUsage();  // this process's own CPU over the connects, not its start-up
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      await session();
      checkDeadline();
    }
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { rate: count / seconds, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6 };
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
  connects: () => connects(),
  handshakes: () => connects(() => handshake(url)),
  latency,
  idle,
  member,
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
