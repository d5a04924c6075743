/**
 * The public REST API as the console calls it: the bearer token lives in this tab's session
 * storage only (never in a URL), and every call goes out as the signed-in principal, so the
 * console shows exactly what that principal may see.
 */
const TOKEN_KEY = 'coffer.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${session.token() ?? ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  await refuseUnlessOk(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** An answer that is not 2xx as an ApiError; a 401 also tells the console the token is gone. */
export async function refuseUnlessOk(res: Response): Promise<void> {
  if (res.ok) return;
  const error = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
  // After the caller's own handling of this error: sign-in, with its message, is what stays on screen.
  if (res.status === 401) setTimeout(() => window.dispatchEvent(new Event('coffer:unauthorized')));
  throw new ApiError(res.status, error.code ?? `HTTP ${res.status}`, error.message ?? res.statusText);
}

/** A call that may be refused to this principal: undefined instead of the refusal, so the page leaves it out. */
export async function ifAllowed<T>(method: string, path: string): Promise<T | undefined> {
  try {
    return await call<T>(method, path);
  } catch (err) {
    if (err instanceof ApiError && err.status < 500 && err.status !== 401) return undefined;
    throw err;
  }
}

/** The same request as a curl command, as the workshops run it (the token stays a variable). */
export function curlOf(method: string, path: string, body?: unknown): string {
  const lines = [`curl -sS -X ${method} "$COFFER_URL${path}" -H "Authorization: Bearer $COFFER_TOKEN"`];
  // Single-quoted for the shell, each ' written as '\'' so that nothing in the body can end the quote.
  if (body !== undefined) lines.push(`  -H "Content-Type: application/json" -d '${JSON.stringify(body).replaceAll("'", "'\\''")}'`);
  return lines.join(' \\\n');
}
