/** Creates accounts through the API (a few at a time: each one hashes a password) and returns their ids. */
export async function seedAccounts(
  baseUrl: string,
  token: string,
  count: number,
  parallel = 8,
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      ids.push(await createAccount(baseUrl, token, n));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ids;
}

/** The body of POST /accounts for the n-th account a benchmark creates. */
export function newAccountBody(n: number): string {
  return JSON.stringify({
    name: `Bench Account ${n}`,
    email: `bench.account.${n}@example.com`,
    plan: 'free',
    password: `bench-password-${n}`,
  });
}

async function createAccount(baseUrl: string, token: string, n: number): Promise<string> {
  const response = await fetch(`${baseUrl}/accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: newAccountBody(n),
  });
  if (response.status !== 201)
    throw new Error(`POST /accounts answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}
