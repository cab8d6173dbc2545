// The REST API, with the bearer token. A failed request throws ApiError with the contract's
// status and body; a request that never got an answer (network down) throws NetworkError, so
// callers can tell "refused" from "unknown, retry with the same key".

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

export class NetworkError extends Error {}

/** A random Idempotency-Key / client_id (works on plain http too, unlike randomUUID). */
export function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  async request(method, path, body, key) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (key) headers['Idempotency-Key'] = key;
    let response;
    try {
      response = await fetch(`/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new NetworkError(e.message);
    }
    if (response.status === 204) return null;
    let json = null;
    try {
      json = await response.json();
    } catch (e) {
      json = null;
    }
    if (!response.ok) throw new ApiError(response.status, json);
    return json;
  }

  /**
   * Uploads a file (its bytes as the body), reporting progress as a fraction; the key makes a
   * retry store it once. XMLHttpRequest, because fetch reports no upload progress.
   */
  upload(file, key, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `/api/v1/attachments?filename=${encodeURIComponent(file.name || 'pasted')}`);
      if (this.token) xhr.setRequestHeader('Authorization', `Bearer ${this.token}`);
      xhr.setRequestHeader('Idempotency-Key', key);
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onerror = () => reject(new NetworkError('upload failed'));
      xhr.onload = () => {
        let json = null;
        try {
          json = JSON.parse(xhr.responseText);
        } catch (e) {
          json = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(json);
        else reject(new ApiError(xhr.status, json));
      };
      xhr.send(file);
    });
  }

  /** A file the API serves (content, thumbnail), as a Blob: fetched with the token in its header, never in a URL. */
  async blob(path) {
    let response;
    try {
      response = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${this.token}` } });
    } catch (e) {
      throw new NetworkError(e.message);
    }
    if (!response.ok) throw new ApiError(response.status, null);
    return response.blob();
  }

  get(path) { return this.request('GET', path); }
  post(path, body, key) { return this.request('POST', path, body ?? {}, key); }
  put(path, body) { return this.request('PUT', path, body); }
  patch(path, body) { return this.request('PATCH', path, body); }
  delete(path) { return this.request('DELETE', path); }
}
