import { join } from 'node:path';
import ejs from 'ejs';

/** Turns a view name and its locals into a whole HTML page. */
export interface Renderer {
  render(view: string, locals: Record<string, unknown>): Promise<string>;
}

export interface RendererOptions {
  /** The folder holding `layout.ejs` and one `<view>.ejs` per page. */
  viewsDir: string;
  /** Keep compiled templates in memory (default true; turn off to pick up template edits). */
  cache?: boolean;
}

// Names come from code, never from a request, but a tight alphabet still rules out "../" and friends.
const VIEW_NAME = /^[a-z-]+$/;
const LAYOUT = 'layout';

/**
 * An ejs renderer: the page template is rendered first, then `layout.ejs` around it with the
 * same locals plus `body` (the page's HTML) and `view` (its name, for per-page CSS). Rejects when
 * the name is not `[a-z-]+`, names the layout itself, the file is missing, or a template throws.
 */
export function createRenderer(options: RendererOptions): Renderer {
  const cache = options.cache ?? true;
  const file = (name: string) => join(options.viewsDir, `${name}.ejs`);

  return {
    async render(view, locals) {
      if (!VIEW_NAME.test(view) || view === LAYOUT) throw new Error(`invalid view name ${JSON.stringify(view)}`);
      // Options go in the third argument so no local (say a `cache` key) is ever read as an ejs option.
      const ejsOptions = { cache, async: false as const, root: options.viewsDir, views: [options.viewsDir] };
      const data = { ...locals, view };
      const body = await ejs.renderFile(file(view), data, ejsOptions);
      return ejs.renderFile(file(LAYOUT), { ...data, body }, ejsOptions);
    },
  };
}
