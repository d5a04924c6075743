import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * libuv (since 1.45, so Node 20) accepts one connection each time a listening handle polls
 * readable: one per turn of the event loop. Under overload a turn serves every ready connection
 * and lasts 200-800 ms, so a burst of 1,000 connects sat in the kernel's accept queue at 3-5
 * accepts/s, and every probe behind it. Each further handle on the same listening socket (a
 * duplicate descriptor, got by passing the handle through a short-lived child's IPC channel and
 * back) accepts one more per turn; its connections go to `server` as its own. Resolves with a
 * function that stops them and resolves once their connections have ended (for shutdown).
 * Node 22.12's `reusePort` would give the same without the internal `_handle`; Coffer runs on 20.
 */
export async function acceptMorePerTurn(server: Server, handles: number, backlog: number): Promise<() => Promise<void>> {
  if (handles <= 0) return () => Promise.resolve();
  const listening = (server as unknown as { _handle: object })._handle;
  const echo = spawn(process.execPath, ['-e', "process.on('message', (m, h) => process.send(m, h))"], {
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: {},
  });
  const extras: NetServer[] = [];
  try {
    let next: ((handle: object) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      echo.once('error', reject);
      echo.once('exit', () => reject(new Error('the descriptor-duplicating child exited')));
    });
    failed.catch(() => undefined);
    echo.on('message', (_m, handle) => next?.(handle as object));
    for (let i = 0; i < handles; i++) {
      const duplicate = await Promise.race([
        new Promise<object>((resolve) => ((next = resolve), echo.send('dup', listening as never))),
        failed,
      ]);
      // As node's HTTP server sets its own sockets: without noDelay, Nagle holds back a streamed answer's chunks.
      const extra = new NetServer({ noDelay: true });
      extra.on('connection', (socket) => server.emit('connection', socket));
      extra.listen(duplicate as never, backlog);
      extras.push(extra);
    }
  } catch (err) {
    for (const extra of extras) extra.close();
    throw err;
  } finally {
    echo.removeAllListeners('exit');
    echo.removeAllListeners('error');
    echo.on('error', () => undefined);
    echo.kill();
  }
  return () => Promise.all(extras.map((extra) => new Promise<void>((resolve) => extra.close(() => resolve())))).then(() => undefined);
}
