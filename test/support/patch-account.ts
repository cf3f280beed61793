import { Agent, request as httpRequest } from 'node:http';

/**
 * One audited `PATCH /accounts/:id` of the demo as a real HTTP request (keep-alive agent, the given request
 * id): resolves true on a 2xx, false on any other answer or a network error. The load tests count with it.
 */
export function patchAccount(
  agent: Agent,
  target: { port: number; bearer: string; account: string },
  requestId: string,
  name: string,
): Promise<boolean> {
  const body = JSON.stringify({ name });
  return new Promise<boolean>((resolve) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        path: `/accounts/${target.account}`,
        method: 'PATCH',
        agent,
        headers: {
          authorization: `Bearer ${target.bearer}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-request-id': requestId,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode! >= 200 && res.statusCode! < 300));
      },
    );
    req.on('error', () => resolve(false));
    req.end(body);
  });
}
