// The reference server: socket.io 4.8 serving the benchmark app (join acks, bcast to a room,
// echo returns its data). Listens on a free loopback port and prints {"port": N} on stdout.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { maxHttpBufferSize: 1e6 });

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(room);
  });
  socket.on("bcast", (data) => {
    io.to(data.room).emit("bcast", data);
  });
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});
process.on("SIGTERM", () => process.exit(0));
