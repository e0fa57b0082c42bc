export function PartnerScreen() {
  return <p>PartnerScreen: not built yet</p>;
}
