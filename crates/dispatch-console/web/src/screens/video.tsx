export function VideoScreen() {
  return <p>VideoScreen: not built yet</p>;
}
