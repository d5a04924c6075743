import { run as envelope } from './envelope';
import { run as objects } from './objects';

/** `npm run bench`: every benchmark section, each printing ratios against a baseline measured in the same run. */
async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  await envelope();
  await objects();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
