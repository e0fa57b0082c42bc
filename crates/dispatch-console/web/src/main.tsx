import { render } from "preact";
import "leaflet/dist/leaflet.css";
import "./styles.css";
import { App } from "./app";
import { resume } from "./session";

const root = document.getElementById("app");
if (root !== null) {
  void resume().finally(() => render(<App />, root));
}
