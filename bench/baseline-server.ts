import { randomBytes } from 'node:crypto';
import express from 'express';

/**
 * The ceiling the hot path is measured against: an express 5 app, in a process of its own, that
 * parses a JSON body and answers JSON of the same size as Coffer's, over REST and over the KMS
 * wire protocol (so the AWS SDK can drive it too). It does no cryptography and no authorization.
 */
const app = express();
app.disable('x-powered-by');
const keyId = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';
const blob = () => randomBytes(150).toString('base64');

app.post('/v1/encrypt', express.json(), (req, res) => {
  res.json({ keyId, ciphertextBlob: blob(), encryptionAlgorithm: 'SYMMETRIC_DEFAULT', echo: typeof req.body });
});
app.post('/v1/datakeys', express.json(), (req, res) => {
  res.json({ keyId, ciphertextBlob: blob(), plaintext: randomBytes(32).toString('base64'), echo: typeof req.body });
});
app.post('/', express.json({ type: 'application/x-amz-json-1.1' }), (req, res) => {
  res.type('application/x-amz-json-1.1');
  res.setHeader('x-amzn-RequestId', 'baseline');
  res.send(JSON.stringify({ KeyId: keyId, CiphertextBlob: blob(), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT', Echo: typeof req.body }));
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` })}\n`);
});
