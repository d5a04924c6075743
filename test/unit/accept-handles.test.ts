import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptMorePerTurn } from '../../src/routes/accept-handles';

/** The inode of every socket this process holds open, with how many descriptors name it. */
function socketDescriptors(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target.startsWith('socket:')) counts.set(target, (counts.get(target) ?? 0) + 1);
  }
  return counts;
}

describe('acceptMorePerTurn', () => {
  it('adds descriptors of the listening socket itself, serves every connection through the server, and closes them on stop', async () => {
    const server = http.createServer((_req, res) => res.end('served'));
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 511 }, resolve));
    const before = socketDescriptors();
    const stop = await acceptMorePerTurn(server, 8, 511);
    const grown = [...socketDescriptors()].filter(([inode, n]) => n - (before.get(inode) ?? 0) === 8);
    expect(grown).toHaveLength(1); // one socket, eight more descriptors of it

    const { port } = server.address() as AddressInfo;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`http://127.0.0.1:${port}/`, { headers: { Connection: 'close' } }).then((r) => r.text())),
    );
    expect(new Set(answers)).toEqual(new Set(['served']));

    await stop();
    const [inode] = grown[0]!;
    expect(socketDescriptors().get(inode)).toBe(before.get(inode));
    await new Promise((resolve) => server.close(resolve));
  });

  it('adds nothing when asked for none', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const before = socketDescriptors().size;
    const stop = await acceptMorePerTurn(server, 0, 511);
    expect(socketDescriptors().size).toBe(before);
    await stop();
    await new Promise((resolve) => server.close(resolve));
  });
});
