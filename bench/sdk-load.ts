import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { Agent } from 'node:http';

/**
 * A load generator of its own process: `concurrency` loops of KMS Encrypt through
 * @aws-sdk/client-kms (SigV4-signed, as every AWS client sends) for `seconds`; prints one JSON line
 * with the count and latency percentiles, and the CPU this process spent (the client's own cost).
 */
async function main(): Promise<void> {
  const [endpoint, accessKeyId, secretAccessKey, keyId, concurrency, seconds] = process.argv.slice(2) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const client = new KMSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: Number(concurrency) }) },
  });
  const plaintext = Buffer.alloc(64, 1);
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + Number(seconds) * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      try {
        await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
        times.push(performance.now() - start);
      } catch {
        errors++;
      }
    }
  };
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: Number(concurrency) }, loop));
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))] ?? 0;
  process.stdout.write(
    `${JSON.stringify({ count: times.length, errors, p50: at(0.5), p99: at(0.99), clientCpuMs: (used.user + used.system) / 1000 })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
