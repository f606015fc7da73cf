/**
 * For abandoned_context.ts: opens a libzmq context whose socket keeps trying
 * a port nobody listens on (libzmq's I/O thread wakes for each try) and a
 * poller waiting on it, says so, and is terminated without closing either.
 *
 * @module
 */
import { Poller, SocketType, ZmqContext } from "../zmq/socket.ts";

const context = new ZmqContext();
const socket = context.socket(SocketType.SUB);
socket.attach({ bind: false, address: "tcp://127.0.0.1:9" });
const poller = new Poller(context, [socket]);
void poller.wait(50);
self.postMessage("started");
