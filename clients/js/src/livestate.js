// Entry of the browser bundle served by livestate at /livestate.js (built by ../build.mjs).
//
//   <script type="module">
//     import { LiveState } from "/livestate.js";
//     const ls = new LiveState({ url: "ws://" + location.host + "/socket", topic: "doc:demo" });
//   </script>
//
// Exports the phoenix client (1.8) and everything phx-live-state 0.12.3 exports.
export { Socket, Channel, Presence, LongPoll } from 'phoenix';
export {
  LiveState,
  connectElement,
  connectAtttribute,
  connectProperty,
  sendEvent,
  receiveEvent,
  liveState,
  liveStateConfig,
  liveStateProperty,
} from 'phx-live-state';
