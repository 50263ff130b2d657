// Placeholder: this page is being built (docs/ui.md).
import { h } from "../dom.js";

export default function render(root) {
  root.append(h("h1", "activity"), h("p.muted", "This page is not built yet."));
}
