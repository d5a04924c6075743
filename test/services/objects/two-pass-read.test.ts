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

/** A store that answers every read in chunks of awkward sizes (around the 16-byte tag). */
class OddlyChunked extends EmbeddedObjectStore {
  override async getObject(bucket: string, key: string, customerKey?: Buffer, options?: { ifMatch?: string }) {
    const r = await super.getObject(bucket, key, customerKey, options);
    const whole = Buffer.concat(await r.body.toArray());
    const sizes = [1, 15, 16, 17, 4096, 65553, 3];
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < whole.length; i++) {
      chunks.push(whole.subarray(at, at + sizes[i % sizes.length]!));
      at += sizes[i % sizes.length]!;
    }
    return { ...r, body: Readable.from(chunks) };
  }
}

it('a big CSE object read back in chunks of 1, 15, 16, 17 bytes and more decrypts whole; a changed tag is refused', async () => {
  const store = new OddlyChunked(dir);
  const objects = new ObjectService(store, {} as KeyManagement, randomBytes(32));
  const customerKey = randomBytes(32);
  await store.createBucket('odd-chunks');
  for (const size of [IN_MEMORY_VERIFY_BOUND + 1, IN_MEMORY_VERIFY_BOUND + 17]) {
    const body = randomBytes(size);
    await objects.put('odd-chunks', `o${size}`, Readable.from([body]), { mode: 'CSE-C', customerKey });
    const back = await objects.get('odd-chunks', `o${size}`, customerKey);
    expect(Buffer.concat(await back.body.toArray()).equals(body)).toBe(true);
  }
  // The stored ciphertext with its last byte (part of the tag) flipped.
  const stored = await EmbeddedObjectStore.prototype.getObject.call(store, 'odd-chunks', `o${IN_MEMORY_VERIFY_BOUND + 1}`);
  const bytes = Buffer.concat(await stored.body.toArray());
  bytes[bytes.length - 1]! ^= 1;
  await store.putObject('odd-chunks', 'tampered', Readable.from([bytes]), stored.object.metadata);
  await expect(objects.get('odd-chunks', 'tampered', customerKey)).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
});
