/**
 * A tiny browser stand-in for flow tests: fetch with a cookie jar and manual redirects, so a test
 * can follow an OIDC flow hop by hop and stop at the loopback redirect (nothing listens there).
 */
export interface Hop {
  status: number;
  url: string;
  location?: string;
  body: string;
  headers: Headers;
}

export class Browser {
  private readonly jar = new Map<string, string>();

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  cookieNames(): string[] {
    return [...this.jar.keys()];
  }

  clearCookies(): void {
    this.jar.clear();
  }

  private keep(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Hop> {
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
    const cookie = this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.keep(res);
    const location = res.headers.get('location') ?? undefined;
    return {
      status: res.status,
      url,
      ...(location ? { location: new URL(location, url).href } : {}),
      body: await res.text(),
      headers: res.headers,
    };
  }

  /**
   * Follow redirects from `url` until a page answers, or until a redirect points at `stopAt`
   * (the client's redirect URI); returns the last hop.
   */
  async follow(url: string, init: Parameters<Browser['request']>[1] = {}, stopAt?: (location: string) => boolean): Promise<Hop> {
    let hop = await this.request(url, init);
    for (let i = 0; i < 15 && hop.location && hop.status >= 300 && hop.status < 400; i++) {
      if (stopAt?.(hop.location)) return hop;
      hop = await this.request(hop.location);
    }
    return hop;
  }
}

/** The value of a named hidden input (or the action of the first form) in an HTML page. */
export function formField(html: string, name: string): string | undefined {
  const re = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"|<input[^>]*value="([^"]*)"[^>]*name="${name}"`);
  const m = re.exec(html);
  return m ? decodeHtml(m[1] ?? m[2] ?? '') : undefined;
}

export function formAction(html: string): string | undefined {
  const m = /<form[^>]*action="([^"]*)"/.exec(html);
  return m ? decodeHtml(m[1]!) : undefined;
}

function decodeHtml(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}
