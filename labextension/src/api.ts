/**
 * Requests to kalec's API: by default the Jupyter server extension (same origin, Jupyter's own
 * login and XSRF handling through ServerConnection), or a separate `kalec serve` at the URL the
 * settings give, with its token.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { DiagnosticData, ErrorAnswer } from './answers';

export interface Connection {
  /** Empty: the Jupyter server extension. Else the base URL of a `kalec serve`. */
  serverUrl: string;
  token: string;
}

/** A diagnostic as the server sends it (declared once, in kalec/ir/model.py). */
export type Diagnostic = DiagnosticData;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly diagnostics: Diagnostic[] = []
  ) {
    super(message);
  }
}

export class KalecApi {
  constructor(private readonly connection: () => Connection) {}

  /** True when requests go to the server extension, which can read notebooks by path. */
  get inJupyter(): boolean {
    return !this.connection().serverUrl;
  }

  async get<T>(endpoint: string): Promise<T> {
    return this.request<T>(endpoint, { method: 'GET' });
  }

  async post<T>(endpoint: string, body: unknown): Promise<T> {
    return this.request<T>(endpoint, { method: 'POST', body: JSON.stringify(body) });
  }

  private async request<T>(endpoint: string, init: RequestInit): Promise<T> {
    const { serverUrl, token } = this.connection();
    let response: Response;
    try {
      if (serverUrl) {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (token) {
          headers.Authorization = `token ${token}`;
        }
        response = await fetch(URLExt.join(serverUrl, 'api/v1', endpoint), { ...init, headers });
      } else {
        const settings = ServerConnection.makeSettings();
        const url = URLExt.join(settings.baseUrl, 'kalec/api/v1', endpoint);
        response = await ServerConnection.makeRequest(url, init, settings);
      }
    } catch (error) {
      const where = serverUrl || 'the Jupyter server';
      throw new ApiError(0, `cannot reach kalec at ${where}: ${(error as Error).message}`);
    }
    const text = await response.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data as Partial<ErrorAnswer> | null)?.error;
      let message = error?.message ?? (text || response.statusText);
      if (response.status === 404 && !serverUrl && !error) {
        message = "kalec's server extension is not enabled in this Jupyter server (jupyter server extension list)";
      }
      throw new ApiError(response.status, message, error?.diagnostics ?? []);
    }
    return data as T;
  }
}
