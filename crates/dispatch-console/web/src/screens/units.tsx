export function UnitBoardScreen() {
  return <p>UnitBoardScreen: not built yet</p>;
}
