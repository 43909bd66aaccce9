import axios from 'axios';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * HTTP calls to a scimflow API as a user makes them: `call` answers any status (and throws only on a network
 * error: refused, reset), `ok` fails on anything but 2xx.
 */
export function apiCalls(apiUrl: () => string, token: () => string | null) {
  const call = async <T = Record<string, unknown>>(
    method: Method,
    url: string,
    body?: unknown,
    bearer: string | null = token(),
  ): Promise<{ status: number; body: T }> => {
    const response = await axios.request<T>({
      method,
      url: `${apiUrl()}${url}`,
      data: body,
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
      timeout: 30_000,
      validateStatus: () => true,
    });
    return { status: response.status, body: response.data };
  };
  const ok = async <T = Record<string, unknown>>(method: Method, url: string, body?: unknown): Promise<T> => {
    const response = await call<T>(method, url, body);
    if (response.status >= 300) {
      throw new Error(`${method} ${url} answered ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response.body;
  };
  return { call, ok };
}
