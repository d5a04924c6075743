import { run as hotPath } from './hot-path';
import { run as envelope } from './envelope';
import { run as objects } from './objects';
import { run as keyScale } from './key-scale';
import { run as replicas } from './replicas';
import { run as overload } from './overload';

/** `npm run bench`: every benchmark section, each printing ratios against a baseline measured in the same run. */
async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  await hotPath();
  await envelope();
  await objects();
  await keyScale();
  await replicas();
  await overload();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
