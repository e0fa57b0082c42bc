export function CallTakerScreen() {
  return <p>CallTakerScreen: not built yet</p>;
}
