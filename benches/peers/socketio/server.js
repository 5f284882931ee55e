// The Socket.IO peer of livestate's benchmarks (socket.io 4.x, pinned in package-lock.json).
//
//   node server.js [--port 0] [--host 127.0.0.1]
//
// Prints `listening on HOST:PORT` as its first line of output, then serves:
//   join(room, ack)  joins `room` and acks "ok"
//   msg(room, data)  relays `msg(data)` to everyone in `room` (io.to(room).emit: encoded once)
//   ev(data, ack)    acks with `data` (the events scenario's round trip)
// WebSocket transport only, no compression. SIGTERM or SIGINT stops it.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg("--host", "127.0.0.1");
const port = Number(arg("--port", "0"));

const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});
const io = new Server(httpServer, {
  transports: ["websocket"],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  cors: { origin: "*" },
});

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack("ok");
  });
  socket.on("msg", (room, data) => {
    io.to(String(room)).emit("msg", data);
  });
  socket.on("ev", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
});

httpServer.listen(port, host, () => {
  const a = httpServer.address();
  process.stdout.write(`listening on ${a.address}:${a.port}\n`);
});

function stop() {
  io.close();
  httpServer.close();
  // sockets still open must not keep the process alive
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
