// main.ts: the web client's entry point: wires the connection, the state and the views.
import { App } from "./app";

new App(document.getElementById("app")!).start();
