// Entry of the live-view bundle served by livestate at /live/live.js (built by ../build.mjs):
// the stock phoenix and phoenix_live_view clients, and a bootstrap that connects the page.
//
//   <meta name="csrf-token" content="...">
//   <script>window.livestateHooks = { Chart: { mounted() { ... } } };</script>   <!-- optional -->
//   <script defer src="/live/live.js"></script>
//
// Globals it reads (when the DOM is ready, so a page may set them in any script before):
//   window.livestateHooks    the LiveSocket's hooks (default {})
//   window.livestateOptions  more LiveSocket options, spread last so they win, e.g.
//                            { longPollFallbackMs: 2500 } (default {})
// Globals it sets:
//   window.LiveSocket, window.PhoenixSocket  the classes, for a page that builds its own
//                                            (right away, when the script runs)
//   window.liveSocket                        the connected LiveSocket (when the DOM is ready)
import { Socket } from 'phoenix';
import { LiveSocket } from 'phoenix_live_view';

window.LiveSocket = LiveSocket;
window.PhoenixSocket = Socket;

function start() {
  const meta = document.querySelector("meta[name='csrf-token']");
  const token = meta ? meta.getAttribute('content') : null;
  const hooks = window.livestateHooks || {};
  const options = window.livestateOptions || {};
  const liveSocket = new LiveSocket('/live', Socket, { params: { _csrf_token: token }, hooks, ...options });
  liveSocket.connect();
  window.liveSocket = liveSocket;
}

// A deferred script runs once the document is parsed (readyState "interactive"); without
// `defer` (in <head>) it may run while parsing, so wait for DOMContentLoaded then.
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start, { once: true });
} else {
  start();
}
