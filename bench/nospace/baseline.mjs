// The baseline for bench/nospace: a nospace server built the way the original playground
// worked — the npm socket.io server, the program written to a temp file, the interpreter
// started with child_process.spawn (no sandbox), stdout/stderr buffered ~50 ms / 64 KB per
// event as the seed protocol describes. Same events and command line as nospace-gateway.
//   node baseline.mjs INTERPRETER   → prints "listening PORT"
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server } from 'socket.io';

const interpreter = process.argv[2];
const http = createServer();
const io = new Server(http, { maxHttpBufferSize: 1e6, cors: { origin: '*' } });

function streamer(socket, sessionId, event) {
  let buf = '';
  let timer = null;
  const flush = () => {
    timer = null;
    while (buf.length) {
      socket.emit(event, { sessionId, data: buf.slice(0, 65536) });
      buf = buf.slice(65536);
    }
  };
  return {
    push(text) {
      buf += text;
      if (buf.length >= 65536) flush();
      else if (!timer) timer = setTimeout(flush, 50);
    },
    end() {
      if (timer) clearTimeout(timer);
      flush();
    },
  };
}

io.on('connection', (socket) => {
  let current = null;
  socket.on('nospace_run', ({ code, options }) => {
    current?.child.kill('SIGKILL');
    const sessionId = randomUUID();
    const file = path.join(os.tmpdir(), `nospace-baseline-${sessionId}.ns`);
    fs.writeFileSync(file, code);
    const child = spawn(interpreter, ['--std', options.language, file]);
    current = { child, sessionId };
    socket.emit('nospace_execution_status', { sessionId, status: 'running' });
    const out = streamer(socket, sessionId, 'nospace_stdout');
    const err = streamer(socket, sessionId, 'nospace_stderr');
    child.stdout.setEncoding('utf8').on('data', (d) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d) => err.push(d));
    child.on('close', (exitCode) => {
      out.end();
      err.end();
      fs.rm(file, () => {});
      socket.emit('nospace_execution_status', { sessionId, status: exitCode === 0 ? 'finished' : 'error', exitCode });
    });
  });
  socket.on('disconnect', () => current?.child.kill('SIGKILL'));
});
http.listen(0, '127.0.0.1', () => console.log(`listening ${http.address().port}`));
