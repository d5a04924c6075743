import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: a package under node_modules, Coffer's own file, or node itself. */
function ownerOf(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/dist\/(src\/.+)\.js$/.exec(url);
  if (own) return own[1]!;
  if (url.startsWith('node:')) return url;
  return url === '' ? '(native, GC, idle)' : url;
}

/**
 * The top self-time entries of a V8 CPU profile (`node --cpu-prof`), by function and by owner
 * (package or source file), as fractions of the non-idle time: which layer the time goes to.
 */
export function summarize(file: string, top = 12): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') continue;
    busy += us;
    const owner = functionName === '(garbage collector)' ? '(garbage collector)' : ownerOf(url);
    const fn = `${functionName || '(anonymous)'} ${owner}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
  }
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => `  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  return `busy ${(busy / 1e6).toFixed(1)} s\nby function (self time):\n${list(byFunction)}\nby owner:\n${list(byOwner)}`;
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) console.log(`${file}\n${summarize(file)}\n`);
}
