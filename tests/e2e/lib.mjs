// Helpers shared by the end-to-end tests.
import net from 'node:net';

// A TCP port free on the loopback right now (the kernel picks it; the server binds it next).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
