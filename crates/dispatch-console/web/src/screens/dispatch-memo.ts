// memo without preact/compat (whose global options hooks would change how every screen's
// inputs behave): a component that re-renders only when a prop changes (shallow, by identity).
import { Component, type FunctionComponent, type VNode } from "preact";

export function memo<P extends object>(render: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    shouldComponentUpdate(next: P): boolean {
      const prev = this.props as Record<string, unknown>;
      const now = next as Record<string, unknown>;
      for (const key in now) if (key !== "children" && prev[key] !== now[key]) return true;
      for (const key in prev) if (key !== "children" && !(key in now)) return true;
      return false;
    }
    render(props: P): VNode | null {
      return render(props) as VNode | null;
    }
  }
  (Memo as unknown as { displayName: string }).displayName = `Memo(${render.displayName ?? render.name})`;
  return Memo as unknown as FunctionComponent<P>;
}
