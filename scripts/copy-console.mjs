// The console's static files next to its compiled modules (dist/console), which Coffer serves at /console.
import { copyFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist/console', { recursive: true });
for (const file of ['index.html', 'console.css']) copyFileSync(`console/${file}`, `dist/console/${file}`);
