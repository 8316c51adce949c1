import http from 'node:http';
import type { Express } from 'express';

/** The message classes a node:http server builds each request and response from. */
export interface MessageClasses {
  IncomingMessage: typeof http.IncomingMessage;
  ServerResponse: typeof http.ServerResponse;
}

/**
 * Request and response classes whose objects are born with the express app's prototypes, for
 * `http.createServer`'s `IncomingMessage` and `ServerResponse`. The app's `request` and
 * `response` become these classes' prototypes (which inherit from the app's old ones), so
 * express's `Object.setPrototypeOf(req, app.request)` on each request it routes finds the
 * prototype already in place, and V8 then leaves the object's hidden class alone.
 *
 * Why: a request served before express (the TokenReview webhook, discovery, the login pages)
 * and one that went through express had objects of different hidden classes, and node:http's
 * functions (writeHead, end, the stream code) met both, and more as properties were added in
 * different orders. Past four classes V8 stops specialising a function and looks each property
 * up the slow way, for every request on the port. Subclasses, not functions that call
 * node's constructors: V8 sizes a subclass's objects from node's constructor, and objects built
 * otherwise grow their properties out of line until they fall back to dictionaries.
 */
export function appMessageClasses(app: Pick<Express, 'request' | 'response'>): MessageClasses {
  class AppRequest extends http.IncomingMessage {}
  Object.setPrototypeOf(AppRequest.prototype, app.request);
  app.request = AppRequest.prototype as Express['request'];
  class AppResponse extends http.ServerResponse {}
  Object.setPrototypeOf(AppResponse.prototype, app.response);
  app.response = AppResponse.prototype as Express['response'];
  return { IncomingMessage: AppRequest, ServerResponse: AppResponse as typeof http.ServerResponse };
}
