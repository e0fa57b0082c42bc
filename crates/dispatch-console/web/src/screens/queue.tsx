export function QueueScreen() {
  return <p>QueueScreen: not built yet</p>;
}
