import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { KeyManagement } from '../../../src/services/kms/key-management';
import { IN_MEMORY_VERIFY_BOUND } from '../../../src/services/objects/cse/s3ec-object';
import { ObjectService } from '../../../src/services/objects/object-service';
import { EmbeddedObjectStore } from '../../../src/services/storage/embedded-object-store';

/** A store whose object is replaced, by one of the same size, just before a given read. */
class ReplacedDuringRead extends EmbeddedObjectStore {
  reads = 0;
  replaceBeforeRead = 0;
  /** As stores without etags (older embedded objects, some S3-compatible servers) answer. */
  withoutEtags = false;
  override async headObject(bucket: string, key: string) {
    return this.strip(await super.headObject(bucket, key));
  }
  private strip<T extends { etag?: string }>(o: T): T {
    return this.withoutEtags ? { ...o, etag: undefined } : o;
  }
  override async getObject(bucket: string, key: string, customerKey?: Buffer, options?: { ifMatch?: string }) {
    if (++this.reads === this.replaceBeforeRead) {
      const current = await this.headObject(bucket, key);
      await this.putObject(bucket, key, Readable.from([randomBytes(current.storedSize)]), current.metadata);
    }
    const r = await super.getObject(bucket, key, customerKey, this.withoutEtags ? {} : options);
    return { ...r, object: this.strip(r.object) };
  }
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-two-pass-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a big CSE object replaced between the verifying and the decrypting pass is refused, not mixed', async () => {
  const store = new ReplacedDuringRead(dir);
  const objects = new ObjectService(store, {} as KeyManagement, randomBytes(32));
  const customerKey = randomBytes(32);
  const body = randomBytes(IN_MEMORY_VERIFY_BOUND + 1000);
  await store.createBucket('race');
  await objects.put('race', 'big', Readable.from([body]), { mode: 'CSE-C', customerKey });

  const whole = await objects.get('race', 'big', customerKey);
  expect(Buffer.concat(await whole.body.toArray()).equals(body)).toBe(true);

  store.reads = 0;
  store.replaceBeforeRead = 2; // the second pass
  await expect(objects.get('race', 'big', customerKey)).rejects.toMatchObject({ code: 'OperationAborted' });

  // Without etags the last-modified time tells the replacement apart.
  await objects.put('race', 'big', Readable.from([body]), { mode: 'CSE-C', customerKey });
  store.withoutEtags = true;
  store.reads = 0;
  await new Promise((r) => setTimeout(r, 5));
  await expect(objects.get('race', 'big', customerKey)).rejects.toMatchObject({ code: 'OperationAborted' });
});
