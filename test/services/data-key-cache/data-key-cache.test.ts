import { DataKeyCache } from '../../../src/services/data-key-cache/data-key-cache';
import { createMetrics } from '../../../src/services/metrics';

const limits = { maxAgeSeconds: 60, maxMessagesPerKey: 3, maxBytesPerKey: 100, capacity: 2 };

function setup(overrides = {}) {
  let clock = 0;
  let calls = 0;
  const made: Buffer[] = [];
  const metrics = createMetrics();
  const cache = new DataKeyCache({ ...limits, ...overrides }, metrics, () => clock);
  const generate = async () => {
    calls += 1;
    const key = Buffer.alloc(32, calls);
    made.push(key);
    return { plaintextKey: key, encryptedKey: Buffer.from(`blob-${calls}`), keyArn: 'arn' };
  };
  return { cache, metrics, generate, made, calls: () => calls, tick: (ms: number) => (clock += ms) };
}

const counter = async (m: ReturnType<typeof createMetrics>, name: string) =>
  (await m.registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);

describe('DataKeyCache', () => {
  afterEach(() => jest.useRealTimers());

  it('reuses a data key within its message limit, then asks again', async () => {
    const { cache, generate, calls, metrics } = setup();
    for (let i = 0; i < 3; i++) await cache.forEncryption('p', 1, generate);
    expect(calls()).toBe(1);
    await cache.forEncryption('p', 1, generate);
    expect(calls()).toBe(2);
    expect(await counter(metrics, 'coffer_datakey_cache_evictions_total')).toBe(1);
    cache.close();
  });

  it('respects age and bytes limits', async () => {
    const { cache, generate, calls, tick } = setup();
    await cache.forEncryption('p', 60, generate);
    await cache.forEncryption('p', 60, generate); // 120 > 100 bytes: a new key
    expect(calls()).toBe(2);
    tick(60_000);
    await cache.forEncryption('p', 1, generate);
    expect(calls()).toBe(3);
    cache.close();
  });

  it('never shares a key across partitions and evicts the least recently used, zeroing it', async () => {
    const { cache, generate, made, calls } = setup();
    await cache.forEncryption('a', 1, generate);
    await cache.forEncryption('b', 1, generate);
    await cache.forEncryption('c', 1, generate);
    expect(calls()).toBe(3);
    expect(made[0]!.equals(Buffer.alloc(32, 0))).toBe(true); // 'a' evicted and zeroed
    expect(cache.size).toBe(2);
    cache.close();
    expect(made.every((k) => k.equals(Buffer.alloc(32, 0)))).toBe(true);
  });

  it('returns copies, and shares one KMS call among concurrent misses', async () => {
    const { cache, generate, calls } = setup({ maxMessagesPerKey: 100 });
    const keys = await Promise.all(Array.from({ length: 16 }, () => cache.forEncryption('p', 1, generate)));
    expect(calls()).toBe(1);
    keys[0]!.plaintextKey.fill(9);
    expect(keys[1]!.plaintextKey.equals(Buffer.alloc(32, 1))).toBe(true);
    cache.close();
  });

  it('refuses limits that would cache forever', () => {
    expect(() => new DataKeyCache({ ...limits, maxAgeSeconds: 0 }, createMetrics())).toThrow(/positive/);
  });

  it('forgets a key at once, and does not keep a data key whose KMS call was in flight meanwhile', async () => {
    const { cache, generate, calls } = setup();
    await cache.forDecryption('d', generate);
    cache.forgetKey('arn');
    await cache.forDecryption('d', generate);
    expect(calls()).toBe(2);

    let release: () => void = () => undefined;
    const slow = () => new Promise<void>((r) => (release = r)).then(generate);
    const inFlight = cache.forDecryption('late', slow);
    cache.forgetKey('arn'); // e.g. the key is disabled while KMS answers
    release();
    await inFlight;
    await cache.forDecryption('late', generate);
    expect(calls()).toBe(4);
    cache.close();
  });

  it('neither serves nor keeps a key for a message of unknown length', async () => {
    const { cache, generate, calls } = setup();
    await cache.forEncryption('p', 10, generate); // cached, 10 of 100 bytes used
    for (let i = 0; i < 3; i++) await cache.forEncryption('p', undefined, generate);
    expect(calls()).toBe(4);
    await cache.forEncryption('p', 10, generate); // the cached key is still the first one
    expect(calls()).toBe(4);
    cache.close();
  });

  it('neither serves nor keeps a key for a message longer than the byte limit', async () => {
    const { cache, generate, calls } = setup();
    for (let i = 0; i < 3; i++) await cache.forEncryption('p', 101, generate);
    expect(calls()).toBe(3);
    expect(cache.size).toBe(0);
    cache.close();
  });

  it('never lets concurrent encryptions sharing one KMS call exceed the byte limit', async () => {
    const { cache, generate, calls } = setup({ maxMessagesPerKey: 100 });
    const keys = await Promise.all([60, 60, 60, 30].map((bytes) => cache.forEncryption('p', bytes, generate)));
    // 60 (the loader) + 30 fit one key; each other 60 needs its own.
    expect(calls()).toBe(3);
    const byKey = new Map<string, number>();
    [60, 60, 60, 30].forEach((bytes, i) => {
      const id = keys[i]!.encryptedKey.toString();
      byKey.set(id, (byKey.get(id) ?? 0) + bytes);
    });
    for (const total of byKey.values()) expect(total).toBeLessThanOrEqual(100);
    cache.close();
  });
});
