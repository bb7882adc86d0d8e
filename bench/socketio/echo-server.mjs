// The npm socket.io server doing what socketio-conformance-server does, for bench/socketio:
// "message" echoed as "message-back", "message-with-ack" acknowledged with its arguments.
// Default heartbeat (25000/20000 ms), no compression (socket.io's default). Prints
// "listening PORT"; the line "gc" on stdin runs a full garbage collection (run with
// --expose-gc) and answers "gc done", so memory is measured after the heap settled.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { Server } from 'socket.io';

const http = createServer();
const io = new Server(http, { maxHttpBufferSize: 1e6, cors: { origin: '*' } });
io.on('connection', (socket) => {
  socket.emit('auth', socket.handshake.auth);
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...args) => {
    const ack = args.pop();
    if (typeof ack === 'function') ack(...args);
  });
});
http.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening ${http.address().port}`);
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'gc') {
    globalThis.gc?.();
    console.log('gc done');
  }
});
