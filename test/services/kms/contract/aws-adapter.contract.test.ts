import { AwsKms } from '../../../../src/services/kms/aws/aws-kms';
import { startCoffer } from '../../../support/start-coffer';
import { keyManagementContract } from './key-management-contract';

keyManagementContract('AWS SDK adapter over HTTP to the KMS-compatible endpoint', async () => {
  const coffer = await startCoffer();
  const kms = new AwsKms({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials });
  return {
    kms,
    teardown: async () => {
      kms.close();
      await coffer.stop();
    },
  };
});
