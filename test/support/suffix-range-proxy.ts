import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through HTTP proxy in front of s3rver that turns suffix ranges (`Range: bytes=-N`),
 * which s3rver answers wrongly, into explicit ranges using a HEAD for the length, as S3 would.
 * The Ruby S3 Encryption Client reads the GCM tag with a suffix range.
 */
export async function startSuffixRangeProxy(target: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const server = http.createServer(async (req, res) => {
    const headers = { ...req.headers, host: upstream.host };
    const suffix = /^bytes=-(\d+)$/.exec(String(req.headers.range ?? ''));
    if (suffix) {
      const length = await new Promise<number>((resolve, reject) => {
        http
          .request({ host: upstream.hostname, port: upstream.port, path: req.url, method: 'HEAD' }, (r) => {
            r.resume();
            resolve(Number(r.headers['content-length']));
          })
          .on('error', reject)
          .end();
      });
      const n = Math.min(Number(suffix[1]), length);
      headers.range = `bytes=${length - n}-${length - 1}`;
    }
    const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
