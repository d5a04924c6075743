import { KMS } from '@aws-sdk/client-kms';
import { nameOf } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let east: KMS;
let west: KMS;
const clients = () => {
  east = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials });
  west = new KMS({ endpoint: coffer.url, region: 'us-west-2', credentials: coffer.credentials });
};
beforeAll(async () => {
  coffer = await startCoffer({ AWS_REGION: 'us-east-1' });
  clients();
});
afterAll(async () => {
  east.destroy();
  west.destroy();
  await coffer.stop();
});

describe('regions: each has its own keys and aliases', () => {
  it('a key belongs to the region its request was signed for, and its ARN names it', async () => {
    const westKey = (await west.createKey({ Description: 'west' })).KeyMetadata!;
    expect(westKey.Arn).toMatch(/^arn:aws:kms:us-west-2:/);
    expect(westKey.MultiRegion).toBe(false);
    expect(await nameOf(east.describeKey({ KeyId: westKey.KeyId }))).toBe('NotFoundException');
    expect(await nameOf(east.describeKey({ KeyId: westKey.Arn }))).toBe('NotFoundException');
    const eastKey = (await east.createKey({})).KeyMetadata!;
    expect(await nameOf(west.encrypt({ KeyId: eastKey.KeyId, Plaintext: Buffer.from('x') }))).toBe('NotFoundException');
    const westIds = (await west.listKeys({})).Keys!.map((k) => k.KeyId);
    expect(westIds).toContain(westKey.KeyId);
    expect(westIds).not.toContain(eastKey.KeyId);
    expect((await east.listKeys({})).Keys!.map((k) => k.KeyId)).not.toContain(westKey.KeyId);
    // A ciphertext of one region's key does not decrypt in another.
    const blob = (await west.encrypt({ KeyId: westKey.KeyId, Plaintext: Buffer.from('west only') })).CiphertextBlob;
    expect(await nameOf(east.decrypt({ CiphertextBlob: blob }))).toBe('InvalidCiphertextException');
    expect(Buffer.from((await west.decrypt({ CiphertextBlob: blob })).Plaintext!).toString()).toBe('west only');
  });

  it('one alias name in two regions names two keys', async () => {
    const westKey = (await west.createKey({})).KeyMetadata!.KeyId!;
    const eastKey = (await east.createKey({})).KeyMetadata!.KeyId!;
    await west.createAlias({ AliasName: 'alias/regional', TargetKeyId: westKey });
    await east.createAlias({ AliasName: 'alias/regional', TargetKeyId: eastKey });
    expect((await west.describeKey({ KeyId: 'alias/regional' })).KeyMetadata!.KeyId).toBe(westKey);
    expect((await east.describeKey({ KeyId: 'alias/regional' })).KeyMetadata!.KeyId).toBe(eastKey);
    const westAliases = (await west.listAliases({})).Aliases!.filter((a) => a.AliasName === 'alias/regional');
    expect(westAliases).toEqual([
      expect.objectContaining({ TargetKeyId: westKey, AliasArn: expect.stringMatching(/^arn:aws:kms:us-west-2:/) }),
    ]);
    await west.deleteAlias({ AliasName: 'alias/regional' });
    expect((await east.describeKey({ KeyId: 'alias/regional' })).KeyMetadata!.KeyId).toBe(eastKey);
  });
});

describe('multi-Region keys', () => {
  it('MultiRegion=true makes an mrk- primary; ReplicateKey makes a replica that decrypts what the primary encrypts, and back', async () => {
    const primary = (await east.createKey({ MultiRegion: true, Description: 'mrk' })).KeyMetadata!;
    expect(primary.KeyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    expect(primary.MultiRegion).toBe(true);
    expect(primary.MultiRegionConfiguration).toMatchObject({
      MultiRegionKeyType: 'PRIMARY',
      PrimaryKey: { Arn: primary.Arn, Region: 'us-east-1' },
    });

    const replicated = await east.replicateKey({
      KeyId: primary.KeyId,
      ReplicaRegion: 'us-west-2',
      Tags: [{ TagKey: 'copy', TagValue: 'west' }],
    });
    const replica = replicated.ReplicaKeyMetadata!;
    expect(replica.KeyId).toBe(primary.KeyId);
    expect(replica.Arn).toBe(primary.Arn!.replace('us-east-1', 'us-west-2'));
    expect(replica.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    expect(replicated.ReplicaTags).toEqual([{ TagKey: 'copy', TagValue: 'west' }]);
    const seenFromEast = (await east.describeKey({ KeyId: primary.KeyId })).KeyMetadata!;
    expect(seenFromEast.MultiRegionConfiguration?.ReplicaKeys).toEqual([{ Arn: replica.Arn, Region: 'us-west-2' }]);

    const context = { purpose: 'dr' };
    const fromEast = await east.encrypt({ KeyId: primary.KeyId, Plaintext: Buffer.from('replicated'), EncryptionContext: context });
    const inWest = await west.decrypt({ CiphertextBlob: fromEast.CiphertextBlob, EncryptionContext: context });
    expect(Buffer.from(inWest.Plaintext!).toString()).toBe('replicated');
    expect(inWest.KeyId).toBe(replica.Arn);
    const fromWest = await west.generateDataKey({ KeyId: replica.Arn, KeySpec: 'AES_256' });
    const inEast = await east.decrypt({ CiphertextBlob: fromWest.CiphertextBlob });
    expect(Buffer.from(inEast.Plaintext!).equals(Buffer.from(fromWest.Plaintext!))).toBe(true);

    // A rotation of the primary reaches the replica.
    await east.rotateKeyOnDemand({ KeyId: primary.KeyId });
    const afterRotation = await east.encrypt({ KeyId: primary.KeyId, Plaintext: Buffer.from('rotated') });
    expect(Buffer.from((await west.decrypt({ CiphertextBlob: afterRotation.CiphertextBlob })).Plaintext!).toString()).toBe('rotated');
    expect(await nameOf(west.rotateKeyOnDemand({ KeyId: primary.KeyId }))).toBe('UnsupportedOperationException');

    // Refusals as AWS's.
    expect(await nameOf(east.replicateKey({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' }))).toBe('AlreadyExistsException');
    expect(await nameOf(east.replicateKey({ KeyId: primary.KeyId, ReplicaRegion: 'us-east-1' }))).toBe('ValidationException');
    expect(await nameOf(east.replicateKey({ KeyId: primary.KeyId, ReplicaRegion: 'mars' }))).toBe('ValidationException');
    expect(await nameOf(west.replicateKey({ KeyId: primary.KeyId, ReplicaRegion: 'eu-west-1' }))).toBe('UnsupportedOperationException');
    const single = (await east.createKey({})).KeyMetadata!.KeyId!;
    expect(await nameOf(east.replicateKey({ KeyId: single, ReplicaRegion: 'us-west-2' }))).toBe('UnsupportedOperationException');
    expect(await nameOf(east.scheduleKeyDeletion({ KeyId: primary.KeyId, PendingWindowInDays: 7 }))).toBe('KMSInvalidStateException');
  });

  it('UpdatePrimaryRegion makes a replica the primary; asymmetric replicas share the key pair', async () => {
    const primary = (await east.createKey({ MultiRegion: true, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).KeyMetadata!;
    await east.replicateKey({ KeyId: primary.KeyId, ReplicaRegion: 'us-west-2' });
    const eastPublic = Buffer.from((await east.getPublicKey({ KeyId: primary.KeyId })).PublicKey!);
    expect(Buffer.from((await west.getPublicKey({ KeyId: primary.KeyId })).PublicKey!).equals(eastPublic)).toBe(true);
    const signed = await west.sign({ KeyId: primary.KeyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(
      (
        await east.verify({
          KeyId: primary.KeyId,
          Message: Buffer.from('m'),
          Signature: signed.Signature,
          SigningAlgorithm: 'ECDSA_SHA_256',
        })
      ).SignatureValid,
    ).toBe(true);

    expect(await nameOf(east.updatePrimaryRegion({ KeyId: primary.KeyId, PrimaryRegion: 'eu-west-1' }))).toBe('NotFoundException');
    await east.updatePrimaryRegion({ KeyId: primary.KeyId, PrimaryRegion: 'us-west-2' });
    expect((await west.describeKey({ KeyId: primary.KeyId })).KeyMetadata!.MultiRegionConfiguration).toMatchObject({
      MultiRegionKeyType: 'PRIMARY',
      PrimaryKey: { Region: 'us-west-2' },
      ReplicaKeys: [{ Region: 'us-east-1' }],
    });
    expect((await east.describeKey({ KeyId: primary.KeyId })).KeyMetadata!.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    // The replica may now be deleted; the new primary lives on.
    await east.scheduleKeyDeletion({ KeyId: primary.KeyId, PendingWindowInDays: 7 });
    expect((await west.describeKey({ KeyId: primary.KeyId })).KeyMetadata!.KeyState).toBe('Enabled');
  });

  it("keeps every region's keys across a restart", async () => {
    const westKey = (await west.createKey({ MultiRegion: true })).KeyMetadata!.KeyId!;
    await west.replicateKey({ KeyId: westKey, ReplicaRegion: 'us-east-1' });
    const blob = (await west.encrypt({ KeyId: westKey, Plaintext: Buffer.from('durable') })).CiphertextBlob;
    const dataDir = coffer.dataDir;
    east.destroy();
    west.destroy();
    await coffer.stop({ keepData: true });
    coffer = await startCoffer({ AWS_REGION: 'us-east-1', COFFER_DATA_DIR: dataDir });
    clients();
    expect(Buffer.from((await east.decrypt({ CiphertextBlob: blob })).Plaintext!).toString()).toBe('durable');
    expect((await west.describeKey({ KeyId: westKey })).KeyMetadata!.MultiRegionConfiguration?.MultiRegionKeyType).toBe('PRIMARY');
  });
});
