import { KMS } from '@aws-sdk/client-kms';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { AwsKms } from '../../src/services/kms/aws/aws-kms';
import { metricValue, nameOf } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let kms: KMS;
beforeAll(async () => {
  coffer = await startCoffer();
  kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials });
});
afterAll(async () => {
  kms.destroy();
  await coffer.stop();
});

describe('KMS-compatible endpoint with @aws-sdk/client-kms', () => {
  it('answers as AWS KMS does, blobs and dates included', async () => {
    const created = await kms.createKey({ Description: 'sdk', Tags: [{ TagKey: 't', TagValue: 'v' }] });
    expect(created.KeyMetadata?.CreationDate).toBeInstanceOf(Date);
    const keyId = created.KeyMetadata!.KeyId!;
    await kms.createAlias({ AliasName: 'alias/sdk', TargetKeyId: keyId });
    const dk = await kms.generateDataKey({ KeyId: 'alias/sdk', KeySpec: 'AES_256', EncryptionContext: { project: 'workshop' } });
    expect(dk.Plaintext).toBeInstanceOf(Uint8Array);
    expect(dk.Plaintext).toHaveLength(32);
    const back = await kms.decrypt({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { project: 'workshop' } });
    expect(Buffer.from(back.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!));
    expect(await nameOf(kms.decrypt({ CiphertextBlob: dk.CiphertextBlob }))).toBe('InvalidCiphertextException');
    expect(await nameOf(kms.describeKey({ KeyId: 'alias/none' }))).toBe('NotFoundException');
    expect(await nameOf(kms.createAlias({ AliasName: 'alias/sdk', TargetKeyId: keyId }))).toBe('AlreadyExistsException');
    await kms.disableKey({ KeyId: keyId });
    expect(await nameOf(kms.encrypt({ KeyId: keyId, Plaintext: Buffer.from('x') }))).toBe('DisabledException');
    expect(await nameOf(kms.generateRandom({ NumberOfBytes: 5000 }))).toBe('ValidationException');
    const tags = await kms.listResourceTags({ KeyId: keyId });
    expect(tags.Tags).toEqual([{ TagKey: 't', TagValue: 'v' }]);
  });

  it('counts wire calls in coffer_kms_requests_total', async () => {
    const before = await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateRandom', outcome: 'success' });
    const http = () => metricValue(coffer, 'coffer_http_requests_total', { method: 'POST', route: '/', status: '200' });
    const httpBefore = await http();
    await kms.generateRandom({ NumberOfBytes: 8 });
    await kms.generateRandom({ NumberOfBytes: 8 });
    expect(await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateRandom', outcome: 'success' })).toBe(before + 2);
    expect(await http()).toBe(httpBefore + 2);
  });

  it("serves each region its own keys: a request signed for another region sees none of this one's", async () => {
    const here = (await kms.createKey({})).KeyMetadata!;
    const elsewhere = new KMS({ endpoint: coffer.url, region: 'eu-west-1', credentials: coffer.credentials, maxAttempts: 1 });
    expect((await elsewhere.listKeys({})).Keys!.map((k) => k.KeyId)).not.toContain(here.KeyId);
    expect(await nameOf(elsewhere.describeKey({ KeyId: here.KeyId }))).toBe('NotFoundException');
    // A scope that names no region is refused as AWS refuses it.
    const nowhere = new KMS({ endpoint: coffer.url, region: 'moon-base', credentials: coffer.credentials, maxAttempts: 1 });
    const err = (await nowhere.listKeys({}).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('InvalidSignatureException');
    elsewhere.destroy();
    nowhere.destroy();
  });

  it('refuses a bad signature, an unknown access key, a stale date and no signature', async () => {
    const good = coffer.credentials;
    const wrongSecret = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: { ...good, secretAccessKey: 'wrong' } });
    expect(await nameOf(wrongSecret.listKeys({}))).toBe('InvalidSignatureException');
    const unknown = new KMS({
      endpoint: coffer.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' },
    });
    expect(await nameOf(unknown.listKeys({}))).toBe('UnrecognizedClientException');
    const stale = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: good, systemClockOffset: -3600_000, maxAttempts: 1 });
    // The SDK corrects its clock after a skew error and retries; with one attempt we see the refusal.
    expect(await nameOf(stale.listKeys({}))).toBe('InvalidSignatureException');
    for (const c of [wrongSecret, unknown, stale]) c.destroy();

    const unsigned = await request(coffer.url)
      .post('/')
      .set('Content-Type', 'application/x-amz-json-1.1')
      .set('X-Amz-Target', 'TrentService.ListKeys')
      .send('{}');
    expect(unsigned.status).toBe(400);
    expect(JSON.parse(unsigned.text).__type).toBe('MissingAuthenticationTokenException');
  });

  it('names unknown operations and malformed bodies, signed as the SDK signs', async () => {
    const rewriting = (change: (r: { headers: Record<string, string>; body: unknown }) => void) => {
      const client = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials });
      // The build step runs before signing, so the altered request is correctly signed.
      client.middlewareStack.add(
        (next) => async (args) => {
          const request = (args as unknown as { request: { headers: Record<string, string>; body: unknown } }).request;
          change(request);
          const body = request.body as string | Uint8Array;
          request.headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
          return next(args);
        },
        { step: 'build' },
      );
      return client;
    };
    const unknownOp = rewriting((r) => (r.headers['x-amz-target'] = 'TrentService.CreateCustomKeyStore'));
    expect(await nameOf(unknownOp.listKeys({}))).toBe('UnknownOperationException');
    const badJson = rewriting((r) => (r.body = '{"Limit": '));
    expect(await nameOf(badJson.listKeys({}))).toBe('SerializationException');
    const badMember = rewriting((r) => (r.body = '{"Limit": "ten"}'));
    expect(await nameOf(badMember.listKeys({}))).toBe('ValidationException');
    for (const c of [unknownOp, badJson, badMember]) c.destroy();
  });
});

describe('KMS-compatible endpoint facing malformed input', () => {
  /** Signs with the SDK's own signer, then sends `rawPath` byte for byte (no client re-encodes it). */
  async function sendSigned(rawPath: string, query: Record<string, string>, target = 'TrentService.ListKeys') {
    const url = new URL(coffer.url);
    const body = '{}';
    const signer = new SignatureV4({ service: 'kms', region: 'us-east-1', credentials: coffer.credentials, sha256: Sha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query,
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': target,
        'content-length': String(body.length),
      },
      body,
    });
    return new Promise<{ status: number; body: { __type?: string } }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: rawPath, headers: signed.headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('serves a correctly signed request whose query string is malformed percent-encoding', async () => {
    const answer = await sendSigned('/?%zz', { '%zz': '' });
    expect([answer.status, answer.body]).toEqual([200, expect.objectContaining({ Keys: expect.any(Array) })]);
  });

  it('refuses a body over 1 MiB and a compressed body in the shape the SDKs read', async () => {
    const post = () =>
      request(coffer.url).post('/').set('Content-Type', 'application/x-amz-json-1.1').set('X-Amz-Target', 'TrentService.ListKeys');
    const big = await post().send(Buffer.alloc(1_100_000, 0x20));
    expect([big.status, big.headers['x-amzn-errortype'], JSON.parse(big.text).__type]).toEqual([413, 'PayloadTooLarge', 'PayloadTooLarge']);
    const gzip = await post().set('Content-Encoding', 'gzip').send(Buffer.from('not really gzip'));
    expect([gzip.status, JSON.parse(gzip.text).__type]).toEqual([400, 'SerializationException']);
    expect(gzip.text).not.toMatch(/incorrect header check/);
  });

  it('answers 4xx, never 500, to undecodable or mis-signed queries', async () => {
    for (const raw of ['/?%zz', '/?%E0%A4%A', '/?a=%ff%fe', '/?%', '/?=&&=']) {
      const answer = await sendSigned(raw, { other: 'x' });
      expect([raw, answer.status, answer.body.__type]).toEqual([raw, 400, 'InvalidSignatureException']);
    }
  });
});

describe('AWS adapter facing an answer it cannot map', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const target = String(req.headers['x-amz-target']);
      if (target.endsWith('DescribeKey')) {
        res
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify({ __type: 'BrandNewFutureException', message: 'surprise' }));
      } else if (target.endsWith('Encrypt')) {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ KeyId: 'k' }));
      } else {
        res.writeHead(500, { 'content-type': 'text/html' }).end('<html>oops</html>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('turns unknown errors, missing fields and garbage into BadGatewayException', async () => {
    const adapter = new AwsKms({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIA0000000000000000', secretAccessKey: 's' },
      maxAttempts: 1,
    });
    const codeOf = async (p: Promise<unknown>) =>
      p.then(
        () => 'no error',
        (e: { code?: string }) => e.code ?? 'not a ServiceError',
      );
    expect(await codeOf(adapter.describeKey('x'))).toBe('BadGatewayException');
    expect(await codeOf(adapter.encrypt({ keyId: 'x', plaintext: Buffer.from('y') }))).toBe('BadGatewayException');
    expect(await codeOf(adapter.listKeys({}))).toBe('BadGatewayException');
    adapter.close();
  });
});
