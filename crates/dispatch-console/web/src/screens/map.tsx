export function MapScreen() {
  return <p>MapScreen: not built yet</p>;
}
