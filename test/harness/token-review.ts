/** POST a TokenReview the way kube-apiserver does (with its metadata/status stubs); resolves status and body. */
export async function tokenReview(url: string, token: string, apiVersion = 'authentication.k8s.io/v1', audiences?: string[]) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, */*' },
    body: JSON.stringify({ apiVersion, kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: { token, ...(audiences ? { audiences } : {}) }, status: {} }),
  });
  return { status: res.status, body: (await res.json()) as { apiVersion: string; kind: string; status: Record<string, unknown> } };
}
