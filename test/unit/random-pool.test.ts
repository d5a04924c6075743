import { RandomPool } from '../../src/services/crypto/random-pool';

describe('RandomPool', () => {
  it('never hands out the same bytes twice, across refills', () => {
    const pool = new RandomPool();
    const seen = new Set<string>();
    // 12-byte draws: 341 fit one 4 KiB pool, so 3,000 draws span several refills.
    for (let i = 0; i < 3000; i++) seen.add(pool.take(12).toString('hex'));
    expect(seen.size).toBe(3000);
  });

  it('answers copies: a draw is not changed by later draws or refills', () => {
    const pool = new RandomPool();
    const first = pool.take(32);
    const kept = Buffer.from(first);
    for (let i = 0; i < 200; i++) pool.take(32);
    expect(first.equals(kept)).toBe(true);
  });

  it('answers the lengths asked for, large ones straight from the CSPRNG', () => {
    const pool = new RandomPool();
    expect([0, 1, 12, 32, 1024, 5000].map((n) => pool.take(n).length)).toEqual([0, 1, 12, 32, 1024, 5000]);
  });

  it('looks random: about half the bits set over many draws', () => {
    const pool = new RandomPool();
    let ones = 0;
    for (let i = 0; i < 1000; i++) for (const byte of pool.take(32)) ones += byte.toString(2).replace(/0/g, '').length;
    expect(ones / (1000 * 32 * 8)).toBeGreaterThan(0.48);
    expect(ones / (1000 * 32 * 8)).toBeLessThan(0.52);
  });
});
