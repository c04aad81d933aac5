// The JSON API at /api/compliance, called with the user's bearer token. Refusals arrive as
// problem+json and are thrown as ApiError (status, detail, per-field errors); a 401 signs the
// user out (the token expired or was refused).

import { token, forget } from "./auth.js";

const BASE = "/api/compliance";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }
}

let onUnauthorized = () => {};

export function whenUnauthorized(f) {
  onUnauthorized = f;
}

function headersFor(options) {
  const h = { Authorization: `Bearer ${token()}`, ...(options.headers || {}) };
  if (options.ifMatch !== undefined && options.ifMatch !== null) h["If-Match"] = `"${options.ifMatch}"`;
  return h;
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return { title: res.statusText, detail: `The server answered ${res.status}.` };
  }
}

// A call: `body` is sent as JSON unless it is a Blob; `ifMatch` the version the change is
// based on; `raw` returns the Response itself.
export async function api(path, options = {}) {
  const headers = headersFor(options);
  let body = options.body;
  if (body !== undefined && !(body instanceof Blob)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, { method: options.method || "GET", headers, body });
  } catch {
    throw new ApiError(0, { title: "Network error", detail: "The server could not be reached. Check your connection and try again." });
  }
  if (res.status === 401) {
    const problem = await problemOf(res);
    forget();
    onUnauthorized(problem.detail);
    throw new ApiError(401, problem);
  }
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  if (options.raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path) => api(path);
export const post = (path, body, options = {}) => api(path, { ...options, method: "POST", body });
export const patch = (path, body, ifMatch) => api(path, { method: "PATCH", body, ifMatch });
export const put = (path, body, ifMatch) => api(path, { method: "PUT", body, ifMatch });
export const del = (path, ifMatch) => api(path, { method: "DELETE", ifMatch });

// Query string from an object, skipping empty values; arrays repeat the parameter.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one !== undefined && one !== null && one !== "") q.append(k, one);
    }
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;

// Downloads what a route answers (following a redirect to a presigned URL) and saves it under
// the name the server gives, or `fallback`.
export async function download(path, fallback) {
  const res = await api(path, { raw: true });
  const blob = await res.blob();
  const disposition = res.headers.get("Content-Disposition") || "";
  const m = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(disposition);
  const name = m ? decodeURIComponent(m[1] || m[2]) : fallback;
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return { name, size: blob.size };
}

// PUTs a file to a presigned upload URL with the headers it was signed with, reporting
// progress (0..1). The browser sets Content-Length itself.
export function upload(url, headers, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [k, v] of Object.entries(headers || {})) {
      if (k.toLowerCase() !== "content-length" && k.toLowerCase() !== "host") xhr.setRequestHeader(k, v);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let problem = {};
      try {
        problem = JSON.parse(xhr.responseText);
      } catch {
        problem = { detail: `The file store answered ${xhr.status}.` };
      }
      reject(new ApiError(xhr.status, problem));
    };
    xhr.onerror = () => reject(new ApiError(0, { title: "Upload failed", detail: "The file could not be sent. Check your connection and try again." }));
    xhr.send(file);
  });
}
