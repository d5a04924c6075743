import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const MAIN_FOR_TESTS = path.join(REPO_ROOT, 'dist/src/main.js');
